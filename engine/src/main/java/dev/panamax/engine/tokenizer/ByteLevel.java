package dev.panamax.engine.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * GPT-2's byte-level alphabet: every byte is shown as a printable character so that BPE vocabularies
 * are plain strings. Printable Latin-1 bytes (33..126, 161..172, 174..255) stand for themselves, the
 * other 68 bytes map in order to U+0100..U+0143 (space is U+0120 'Ġ', newline U+010A 'Ċ').
 */
public final class ByteLevel {
    private ByteLevel() {}

    private static final char[] BYTE_TO_CHAR = new char[256];
    /** Index: a char below 0x144; value: the byte it stands for, or -1. */
    private static final int[] CHAR_TO_BYTE = new int[0x144];

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
            char c = printable ? (char) b : (char) (256 + extra++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    public static char charOf(int b) {
        return BYTE_TO_CHAR[b & 0xFF];
    }

    /** The byte a character stands for, or -1 when it is not part of the alphabet. */
    static int byteOf(char c) {
        return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    }

    static String encode(byte[] bytes, int from, int to) {
        char[] out = new char[to - from];
        for (int i = from; i < to; i++) {
            out[i - from] = BYTE_TO_CHAR[bytes[i] & 0xFF];
        }
        return new String(out);
    }

    /**
     * The bytes a vocabulary piece stands for. Characters outside the alphabet (only in malformed
     * vocabularies) contribute their own UTF-8 bytes, so nothing is lost.
     */
    static byte[] decode(String piece) {
        int n = piece.length();
        byte[] out = new byte[n];
        for (int i = 0; i < n; i++) {
            int b = byteOf(piece.charAt(i));
            if (b < 0) {
                return decodeMixed(piece);
            }
            out[i] = (byte) b;
        }
        return out;
    }

    private static byte[] decodeMixed(String piece) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(piece.length() + 8);
        for (int i = 0; i < piece.length(); ) {
            int cp = piece.codePointAt(i);
            int b = cp < 0x10000 ? byteOf((char) cp) : -1;
            if (b >= 0) {
                out.write(b);
            } else {
                out.writeBytes(new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8));
            }
            i += Character.charCount(cp);
        }
        return out.toByteArray();
    }
}
