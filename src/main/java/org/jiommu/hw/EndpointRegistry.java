package org.jiommu.hw;

import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntConsumer;

/**
 * Which endpoints sit behind an IOMMU unit, by requester / stream id: the ATCs that receive
 * device-TLB (VT-d) or ATC_INV (SMMUv3) invalidations, the PRI functions that receive page
 * group responses (VT-d) or PRI_RESP (SMMUv3). A unit looks endpoints up when it executes a
 * command that names them; an id with nothing registered is a command to nobody (the message
 * goes out on the bus and no function claims it).
 *
 * <p>Thread-safe; lookups allocate nothing.
 *
 * @param <E> the endpoint interface (an ATC, a page-response receiver ...)
 */
public final class EndpointRegistry<E> {
    private final ConcurrentHashMap<Integer, E> endpoints = new ConcurrentHashMap<>();
    private final IntConsumer idCheck;

    /** @param idCheck validates an id on registration (throws for an id the bus cannot carry) */
    public EndpointRegistry(IntConsumer idCheck) {
        this.idCheck = Objects.requireNonNull(idCheck, "idCheck");
    }

    /** Connects {@code endpoint} at {@code id}, replacing what was there. */
    public void register(int id, E endpoint) {
        idCheck.accept(id);
        endpoints.put(id, Objects.requireNonNull(endpoint, "endpoint"));
    }

    public void unregister(int id) {
        endpoints.remove(id);
    }

    /** The endpoint at {@code id}, or null. */
    public E get(int id) {
        return endpoints.get(id);
    }

    public int size() {
        return endpoints.size();
    }
}
