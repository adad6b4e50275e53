package org.jiommu.core.spi;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;

/** The text of a page request, as traces and scenario outputs show it. */
class IopfFaultTextTest {
    @Property(tries = 300)
    @Label("a page request's text is prq(pasid=P, grp=G[, last], rwx, 0xADDR), as printf would give it")
    void textAsPrintf(@ForAll boolean pasidValid, @ForAll int pasid, @ForAll int grpid, @ForAll boolean last,
                      @ForAll int perm, @ForAll long addr) {
        IopfFault f = new IopfFault(pasidValid, pasid, grpid, last, perm, addr);
        String expected = String.format("prq(%sgrp=%d%s, %s%s%s, %#x)", pasidValid ? "pasid=" + pasid + ", " : "",
                grpid, last ? ", last" : "", (perm & IopfFault.PERM_READ) != 0 ? "r" : "-",
                (perm & IopfFault.PERM_WRITE) != 0 ? "w" : "-", (perm & IopfFault.PERM_EXEC) != 0 ? "x" : "-", addr);
        assertThat(f.toString()).isEqualTo(expected);
    }

    @Example
    @Label("a write request for PASID 5 at 0x1000, last of group 2")
    void example() {
        assertThat(IopfFault.withPasid(5, 2, true, IopfFault.PERM_READ | IopfFault.PERM_WRITE, 0x1000).toString())
                .isEqualTo("prq(pasid=5, grp=2, last, rw-, 0x1000)");
        assertThat(IopfFault.noPasid(0, false, 0, 0).toString()).isEqualTo("prq(grp=0, ---, 0x0)");
    }
}
