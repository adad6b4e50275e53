package org.jiommu.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayDeque;
import java.util.Deque;
import org.jiommu.pgtable.IoPageTable;
import org.jiommu.platform.Text;

/**
 * {@code /api/table}: a domain's page table as a tree read from memory
 * ({@link IoPageTable#walk}): table descriptors hold their children; runs of leaves of one size
 * whose addresses and attributes continue each other are collapsed into one range node, as
 * {@code hw_dump} merges them. Large tables are cut at {@link #MAX_NODES} nodes (flagged).
 */
final class PageTree {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final int MAX_NODES = 4000;

    private PageTree() {
    }

    private record Open(long iova, long size, ArrayNode children) {
    }

    static ObjectNode of(IoPageTable t) {
        ObjectNode root = JSON.createObjectNode();
        root.put("root", Text.format(t.root()));
        ArrayNode top = root.putArray("children");
        Deque<Open> stack = new ArrayDeque<>();
        int[] nodes = {0};
        boolean[] cut = {false};
        t.walk((level, iova, size, pte, leaf) -> {
            // the visit is depth first: close the tables this descriptor is not inside
            while (!stack.isEmpty() && (iova < stack.peek().iova() || iova >= stack.peek().iova() + stack.peek().size()
                    || size >= stack.peek().size())) {
                stack.pop();
            }
            ArrayNode into = stack.isEmpty() ? top : stack.peek().children();
            if (leaf && into.size() > 0 && merges((ObjectNode) into.get(into.size() - 1), iova, size, pte)) {
                ObjectNode last = (ObjectNode) into.get(into.size() - 1);
                last.put("count", last.get("count").asLong() + 1);
                last.put("lastPte", pte);
                last.put("span", Text.formatSize(last.get("count").asLong() * size));
                return;
            }
            if (nodes[0] >= MAX_NODES) {
                cut[0] = true;
                return;
            }
            nodes[0]++;
            ObjectNode n = into.addObject();
            n.put("level", level);
            n.put("iova", Text.format(iova));
            n.put("iovaValue", iova);
            n.put("size", Text.formatSize(size));
            n.put("sizeValue", size);
            n.put("pte", String.format("%016x", pte));
            n.put("leaf", leaf);
            if (leaf) {
                n.put("count", 1);
                n.put("lastPte", pte);
                n.put("span", Text.formatSize(size));
            } else {
                stack.push(new Open(iova, size, n.putArray("children")));
            }
        });
        root.put("truncated", cut[0]);
        // lastPte was kept as a number for merging; the client sees hex
        strip(top);
        return root;
    }

    /** A leaf continuing the run {@code last}: same size, next address, next output, same attributes. */
    private static boolean merges(ObjectNode last, long iova, long size, long pte) {
        if (!last.get("leaf").asBoolean() || last.get("sizeValue").asLong() != size) {
            return false;
        }
        long count = last.get("count").asLong();
        return last.get("iovaValue").asLong() + count * size == iova && last.get("lastPte").asLong() + size == pte;
    }

    private static void strip(ArrayNode nodes) {
        for (int i = 0; i < nodes.size(); i++) {
            ObjectNode n = (ObjectNode) nodes.get(i);
            if (n.has("lastPte")) {
                n.put("lastPte", String.format("%016x", n.get("lastPte").asLong()));
            }
            if (n.has("children")) {
                strip((ArrayNode) n.get("children"));
            }
        }
    }
}
