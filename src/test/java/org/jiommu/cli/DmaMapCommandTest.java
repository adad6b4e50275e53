package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** {@code jiommu bench dma-map}: the kernel's dma_map_benchmark on jiommu (figures printed, never asserted). */
class DmaMapCommandTest {
    private static final Pattern LINE = Pattern.compile("average (map|unmap) latency: ([0-9.]+) ns, standard deviation ([0-9.]+)");

    @Test
    @DisplayName("bench dma-map, strict and lazy, prints the kernel tool's two latency lines for the loops it made")
    void strictAndLazy() {
        for (String mode : new String[] {"--threads=1", "--lazy"}) {
            Cli r = Cli.run("bench", "dma-map", mode, "--granule", "2", "--seconds", "5", "--loops", "200");
            assertThat(r.exit).as(r.err).isEqualTo(0);
            assertThat(r.out).contains(mode.equals("--lazy") ? "lazy (DMA-FQ)" : "strict").contains("200 loops");
            Matcher m = LINE.matcher(r.out);
            int lines = 0;
            while (m.find()) {
                lines++;
                assertThat(Double.parseDouble(m.group(2))).isPositive();
            }
            assertThat(lines).as(r.out).isEqualTo(2);
            // the command's own JVM ran a fresh one with cache-line-exclusive objects
            assertThat(r.out).contains("note: objects aligned to 128 bytes in this JVM");
        }
    }

    @Test
    @DisplayName("bench dma-map --in-process runs in the command's JVM and says what its object alignment risks")
    void inProcess() {
        Cli r = Cli.run("bench", "dma-map", "--lazy", "--in-process", "--seconds", "5", "--loops", "100",
                "--jit-warmup", "0");
        assertThat(r.exit).as(r.err).isEqualTo(0);
        assertThat(r.out).contains("100 loops", "-byte aligned in this JVM (--in-process)");
    }

    @Test
    @DisplayName("bench dma-map refuses a granule or thread count the kernel tool refuses, with exit 2")
    void badOptions() {
        assertThat(Cli.run("bench", "dma-map", "--granule", "0").exit).isEqualTo(2);
        assertThat(Cli.run("bench", "dma-map", "--threads", "65").exit).isEqualTo(2);
        assertThat(Cli.run("bench", "dma-map", "--devices", "0").exit).isEqualTo(2);
        assertThat(Cli.run("bench", "dma-map", "--devices", "17").exit).isEqualTo(2);
    }

    @Test
    @DisplayName("bench dma-map --devices 2 -t 2: each thread on its own endpoint's domain, said in the first line")
    void twoDevices() {
        Cli r = Cli.run("bench", "dma-map", "--lazy", "-t", "2", "--devices", "2", "--seconds", "5", "--loops", "100",
                "--jit-warmup", "0");
        assertThat(r.exit).as(r.err).isEqualTo(0);
        assertThat(r.out).contains("threads 2, devices 2 (thread t on device t mod 2, each its own domain)", "200 loops");
    }
}
