package dev.panamax.engine.tokenizer;

import java.util.Arrays;

/**
 * BPE merge table: (left id, right id) to rank, in an open-addressing table keyed by the pair packed
 * into a long (no boxing), and rank to merged id. The first occurrence of a duplicated pair wins.
 */
final class PairRanks {
    private static final long EMPTY = -1L;

    private final long[] keys;
    private final int[] ranks;
    private final int[] merged;
    private final int mask;
    private final int shift;
    private int size;

    PairRanks(int expected) {
        int cap = Integer.highestOneBit(Math.max(4, expected * 2 - 1)) << 1;
        keys = new long[cap];
        Arrays.fill(keys, EMPTY);
        ranks = new int[cap];
        merged = new int[Math.max(1, expected)];
        mask = cap - 1;
        shift = 64 - Integer.numberOfTrailingZeros(cap);
    }

    private static long key(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFF_FFFFL);
    }

    private int slot(long key) {
        return (int) ((key * 0x9E37_79B9_7F4A_7C15L) >>> shift);
    }

    /** Adds the merge with the given rank; returns false when the pair is already present. */
    boolean put(int left, int right, int rank, int mergedId) {
        long k = key(left, right);
        int i = slot(k);
        while (keys[i] != EMPTY) {
            if (keys[i] == k) {
                return false;
            }
            i = (i + 1) & mask;
        }
        keys[i] = k;
        ranks[i] = rank;
        merged[rank] = mergedId;
        size++;
        return true;
    }

    /** The rank of merging {@code left} and {@code right}, or -1. */
    int rank(int left, int right) {
        long k = key(left, right);
        int i = slot(k);
        long found;
        while ((found = keys[i]) != EMPTY) {
            if (found == k) {
                return ranks[i];
            }
            i = (i + 1) & mask;
        }
        return -1;
    }

    int mergedId(int rank) {
        return merged[rank];
    }

    int size() {
        return size;
    }
}
