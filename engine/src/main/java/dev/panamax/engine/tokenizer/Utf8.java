package dev.panamax.engine.tokenizer;

/** Small UTF-8 helpers: encoding a range of a string, and finding where a byte stream may be cut. */
final class Utf8 {
    private Utf8() {}

    /**
     * Encodes {@code s[from, to)} into {@code out} (which needs 3 bytes per char), returning the
     * length. A lone surrogate becomes U+FFFD.
     */
    static int encode(String s, int from, int to, byte[] out) {
        int n = 0;
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                out[n++] = (byte) c;
            } else if (c < 0x800) {
                out[n++] = (byte) (0xC0 | (c >> 6));
                out[n++] = (byte) (0x80 | (c & 0x3F));
            } else if (Character.isSurrogate(c)) {
                if (Character.isHighSurrogate(c) && i + 1 < to && Character.isLowSurrogate(s.charAt(i + 1))) {
                    int cp = Character.toCodePoint(c, s.charAt(++i));
                    out[n++] = (byte) (0xF0 | (cp >> 18));
                    out[n++] = (byte) (0x80 | ((cp >> 12) & 0x3F));
                    out[n++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
                    out[n++] = (byte) (0x80 | (cp & 0x3F));
                } else {
                    out[n++] = (byte) 0xEF;
                    out[n++] = (byte) 0xBF;
                    out[n++] = (byte) 0xBD;
                }
            } else {
                out[n++] = (byte) (0xE0 | (c >> 12));
                out[n++] = (byte) (0x80 | ((c >> 6) & 0x3F));
                out[n++] = (byte) (0x80 | (c & 0x3F));
            }
        }
        return n;
    }

    /**
     * The length of the longest prefix of {@code buf[0, len)} that does not end inside a sequence
     * which later bytes could still complete. Invalid sequences are not held back: they will decode
     * to U+FFFD whatever follows. Follows the Unicode well-formed table (no overlongs, nothing
     * above U+10FFFF) except that encoded surrogates count as one sequence, as in Java's decoder:
     * cutting where the JDK's decoder would not keeps streamed text identical to bulk decoding.
     */
    static int completePrefix(byte[] buf, int len) {
        int i = 0;
        while (i < len) {
            int b = buf[i] & 0xFF;
            int need;
            int lo = 0x80;
            int hi = 0xBF;
            if (b < 0x80) {
                i++;
                continue;
            } else if (b >= 0xC2 && b <= 0xDF) {
                need = 1;
            } else if (b >= 0xE0 && b <= 0xEF) {
                need = 2;
                if (b == 0xE0) {
                    lo = 0xA0;
                }
                // ED A0..BF (an encoded surrogate) is held back too: Java's decoder replaces the
                // whole 3-byte sequence with one U+FFFD, so it must not be cut.
            } else if (b >= 0xF0 && b <= 0xF4) {
                need = 3;
                if (b == 0xF0) {
                    lo = 0x90;
                } else if (b == 0xF4) {
                    hi = 0x8F;
                }
            } else {
                i++; // never valid as a lead byte
                continue;
            }
            int j = i + 1;
            boolean broken = false;
            for (int k = 0; k < need; k++, j++) {
                if (j >= len) {
                    return i; // incomplete: every byte so far is valid
                }
                int c = buf[j] & 0xFF;
                boolean ok = k == 0 ? c >= lo && c <= hi : c >= 0x80 && c <= 0xBF;
                if (!ok) {
                    broken = true;
                    break;
                }
            }
            i = broken ? j : i + 1 + need;
        }
        return len;
    }
}
