package dev.panamax.engine.tokenizer;

/**
 * Token text to id: an open-addressing table that can also look up a range of a string, or a
 * string minus one character (a merge "a b" without its space), without allocating. Hashes are
 * {@link String#hashCode()} values, so whole-string lookups reuse the string's cached hash.
 */
final class StringIds {
    private final String[] keys;
    private final int[] ids;
    private final int mask;
    private final int shift;

    StringIds(int expected) {
        int cap = Integer.highestOneBit(Math.max(4, expected * 2 - 1)) << 1;
        keys = new String[cap];
        ids = new int[cap];
        mask = cap - 1;
        shift = 32 - Integer.numberOfTrailingZeros(cap);
    }

    /** Fibonacci hashing: similar strings have nearby hash codes, which linear probing must not see. */
    private int slot(int h) {
        return (h * 0x9E37_79B9) >>> shift;
    }

    /** Adds the key unless present; returns false when it was already there. */
    boolean putIfAbsent(String key, int id) {
        int i = slot(key.hashCode());
        String k;
        while ((k = keys[i]) != null) {
            if (k.equals(key)) {
                return false;
            }
            i = (i + 1) & mask;
        }
        keys[i] = key;
        ids[i] = id;
        return true;
    }

    /** The id of {@code key}, or -1. */
    int get(String key) {
        int i = slot(key.hashCode());
        String k;
        while ((k = keys[i]) != null) {
            if (k.equals(key)) {
                return ids[i];
            }
            i = (i + 1) & mask;
        }
        return -1;
    }

    /** The id of {@code s[from, to)}, or -1. */
    int get(String s, int from, int to) {
        int h = 0;
        for (int j = from; j < to; j++) {
            h = 31 * h + s.charAt(j);
        }
        int len = to - from;
        int i = slot(h);
        String k;
        while ((k = keys[i]) != null) {
            if (k.length() == len && k.regionMatches(0, s, from, len)) {
                return ids[i];
            }
            i = (i + 1) & mask;
        }
        return -1;
    }

    /** The id of {@code s} without the character at {@code skip}, or -1. */
    int getWithout(String s, int skip) {
        int h = 0;
        for (int j = 0; j < s.length(); j++) {
            if (j != skip) {
                h = 31 * h + s.charAt(j);
            }
        }
        int len = s.length() - 1;
        int i = slot(h);
        String k;
        while ((k = keys[i]) != null) {
            if (k.length() == len && k.regionMatches(0, s, 0, skip)
                    && k.regionMatches(skip, s, skip + 1, len - skip)) {
                return ids[i];
            }
            i = (i + 1) & mask;
        }
        return -1;
    }
}
