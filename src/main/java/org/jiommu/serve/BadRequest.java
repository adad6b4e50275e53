package org.jiommu.serve;

/** A request the API refuses: 400 with this message. */
final class BadRequest extends RuntimeException {
    BadRequest(String message) {
        super(message);
    }
}
