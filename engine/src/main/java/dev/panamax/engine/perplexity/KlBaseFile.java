package dev.panamax.engine.perplexity;

import dev.panamax.gguf.PanamaxException;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * The reference file of {@code --kl-divergence-base}: what a later {@code --kl-divergence} run needs
 * from the reference model, stored compactly. For every scored position it keeps the log-probability
 * of the actual next token (for the base perplexity) and the {@code top_k} most probable tokens with
 * their log-probabilities; KL divergence is then computed over those tokens plus one bucket for the
 * rest of the vocabulary (a lower bound of the full KL, exact when the rest carries no mass; with
 * the default 64 tokens it is typically within 1% for real models, and the reports show how much
 * base probability the kept tokens cover). Size: 4 + 8 * top_k bytes per scored position, e.g.
 * 66 MB for 128k positions at top_k 64 (llama.cpp's uint16 full-vocabulary format would need about
 * 300 kB per position for a 152k vocabulary).
 *
 * <pre>
 * little-endian
 *   0  "PNMXKLD1"        magic
 *   8  u32 version = 1
 *  12  u32 n_ctx          tokens per chunk
 *  16  u32 n_vocab
 *  20  u32 top_k
 *  24  u32 n_chunk
 *  28  u32 flags          bit 0: each chunk's first token was replaced by BOS
 *  32  u32 n_tokens       = n_chunk * n_ctx
 *  36  u32 reserved (0)
 *  40  i32 tokens[n_tokens]
 *  then per chunk, per scored position (n_ctx - 1 - n_ctx/2 of them):
 *      f32 log p(actual next token)
 *      top_k x (i32 token id, f32 log p), most probable first
 * </pre>
 * Written to a temporary file and renamed when complete.
 */
public final class KlBaseFile {
    static final byte[] MAGIC = "PNMXKLD1".getBytes(StandardCharsets.US_ASCII);
    static final int HEADER = 40;
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private KlBaseFile() {}

    /** Scored positions per chunk: the second half, minus the last position. */
    public static int scoredPerChunk(int nCtx) {
        return nCtx - 1 - nCtx / 2;
    }

    static long recordBytes(int topK) {
        return 4 + 8L * topK;
    }

    /** Streams a base file; {@link #finish()} moves it into place. */
    public static final class Writer implements AutoCloseable {
        private final Path target;
        private final Path temp;
        private final OutputStream out;
        private final int topK;
        private final ByteBuffer record;
        private final Thread cleanup;
        private boolean finished;

        public Writer(Path target, int nCtx, int nVocab, int topK, int nChunk, boolean bos, int[] tokens)
                throws IOException {
            Path abs = target.toAbsolutePath();
            if (abs.getParent() == null || !Files.isDirectory(abs.getParent())) {
                throw new PanamaxException(target + ": folder " + abs.getParent() + " does not exist");
            }
            this.target = abs;
            this.temp = abs.resolveSibling("." + abs.getFileName() + ".tmp-" + ProcessHandle.current().pid());
            this.topK = topK;
            this.out = new BufferedOutputStream(Files.newOutputStream(temp), 1 << 20);
            // Ctrl-C must not leave the temporary file behind
            this.cleanup = new Thread(() -> {
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException ignored) {
                    // best effort
                }
            }, "kl-base-cleanup");
            Runtime.getRuntime().addShutdownHook(cleanup);
            ByteBuffer h = ByteBuffer.allocate(HEADER + 4 * (nChunk * nCtx)).order(ByteOrder.LITTLE_ENDIAN);
            h.put(MAGIC).putInt(1).putInt(nCtx).putInt(nVocab).putInt(topK).putInt(nChunk).putInt(bos ? 1 : 0)
                    .putInt(nChunk * nCtx).putInt(0);
            for (int i = 0; i < nChunk * nCtx; i++) {
                h.putInt(tokens[i]);
            }
            out.write(h.array());
            this.record = ByteBuffer.allocate((int) recordBytes(topK)).order(ByteOrder.LITTLE_ENDIAN);
        }

        /** One scored position: the actual token's log-probability and the top-k (ids, log-probs), best first. */
        public void position(float actualLogProb, int[] ids, float[] logProbs) throws IOException {
            record.clear();
            record.putFloat(actualLogProb);
            for (int i = 0; i < topK; i++) {
                record.putInt(ids[i]).putFloat(logProbs[i]);
            }
            out.write(record.array());
        }

        public void finish() throws IOException {
            out.close();
            try {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            finished = true;
            close();
        }

        @Override
        public void close() {
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs
            }
            if (!finished) {
                try {
                    out.close();
                } catch (IOException ignored) {
                    // deleting it anyway
                }
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException ignored) {
                    // best effort
                }
            }
        }
    }

    /** A mapped base file, validated. */
    public static final class Reader implements AutoCloseable {
        private final Arena arena = Arena.ofConfined();
        private final MemorySegment data;
        public final Path file;
        public final int nCtx;
        public final int nVocab;
        public final int topK;
        public final int nChunk;
        public final boolean bos;
        public final int[] tokens;

        public Reader(Path file) {
            this.file = file;
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                if (ch.size() < HEADER) {
                    throw bad("too short for a KL base file (" + ch.size() + " bytes)");
                }
                data = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            } catch (NoSuchFileException e) {
                arena.close();
                throw new PanamaxException(file + ": no such file (--kl-divergence-base)");
            } catch (IOException e) {
                arena.close();
                throw new PanamaxException(file + ": cannot read (" + e.getMessage() + ")");
            } catch (RuntimeException e) {
                arena.close();
                throw e;
            }
            byte[] magic = data.asSlice(0, 8).toArray(ValueLayout.JAVA_BYTE);
            if (!java.util.Arrays.equals(magic, MAGIC)) {
                close();
                throw bad("not a Panamax KL base file (made by perplexity --kl-divergence-base; llama.cpp's "
                        + "files are a different format)");
            }
            int version = data.get(I32, 8);
            nCtx = data.get(I32, 12);
            nVocab = data.get(I32, 16);
            topK = data.get(I32, 20);
            nChunk = data.get(I32, 24);
            bos = (data.get(I32, 28) & 1) != 0;
            int nTokens = data.get(I32, 32);
            if (version != 1 || nCtx < 4 || nVocab < 1 || topK < 1 || topK > nVocab || nChunk < 1
                    || nTokens != nChunk * nCtx) {
                close();
                throw bad("inconsistent header (version " + version + ", n_ctx " + nCtx + ", n_vocab " + nVocab
                        + ", top_k " + topK + ", chunks " + nChunk + ", tokens " + nTokens + ")");
            }
            long expected = HEADER + 4L * nTokens + (long) nChunk * scoredPerChunk(nCtx) * recordBytes(topK);
            if (data.byteSize() != expected) {
                close();
                throw bad(data.byteSize() + " bytes, expected " + expected + " for its header (truncated?)");
            }
            tokens = new int[nTokens];
            MemorySegment.copy(data, I32, HEADER, tokens, 0, nTokens);
        }

        private PanamaxException bad(String what) {
            return new PanamaxException(file + ": " + what);
        }

        private long recordOffset(int chunk, int position) {
            return HEADER + 4L * tokens.length
                    + ((long) chunk * scoredPerChunk(nCtx) + position) * recordBytes(topK);
        }

        public float actualLogProb(int chunk, int position) {
            return data.get(F32, recordOffset(chunk, position));
        }

        public int id(int chunk, int position, int rank) {
            return data.get(I32, recordOffset(chunk, position) + 4 + 8L * rank);
        }

        public float logProb(int chunk, int position, int rank) {
            return data.get(F32, recordOffset(chunk, position) + 8 + 8L * rank);
        }

        @Override
        public void close() {
            if (arena.scope().isAlive()) {
                arena.close();
            }
        }
    }
}
