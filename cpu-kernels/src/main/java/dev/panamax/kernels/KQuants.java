package dev.panamax.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Shared pieces of the K-quant family (Q2_K..Q6_K, super-blocks of 256 values): llama.cpp's
 * reference quantization helpers (make_qkx2_quants, make_qx_quants, make_q3_quants, nearest_int),
 * fp16 and little-endian access, the packed 6-bit scale formats, and the small vector idioms the
 * dot products share.
 *
 * <p>Quantizer arithmetic is plain float in llama.cpp's loop order (no fma), so results are byte
 * for byte those of ggml-quants.c.
 *
 * <p>Dot products (measured on AVX2 and on AVX-512 Zen 5, JDK 25; see KQuantBench): levels and Q8_K activations are
 * widened to shorts, multiplied in 16 bits, summed in 16 bits while the bound allows, pair-summed
 * into ints ({@link #pairSum}) and scaled per group in int; the float/FMA alternative measured
 * about 1.5x slower. The Vector API has no multiply-add-pairs (pmaddwd/pmaddubsw/VNNI), which is
 * what llama.cpp's kernels lean on. Keep kernel bodies lean: C2 stops inlining a compilation once
 * its parse-time node count passes NodeCountInliningCutoff, and from then on every call that is
 * not {@code @ForceInline} stays a call: vector ops and helpers that take or return vectors box
 * them (allocation, 10-50x slower), and even scalar helpers such as {@link #fp16} or a
 * {@code MemorySegment.get} (whose bounds check is not force-inlined) become calls that spill every
 * live vector register, once per block. Which side of the cutoff a compilation lands on depends on
 * its profile, so one JVM ran a kernel at full speed and the next at a third of it. So, in the
 * decode kernels: no helper calls at all (pair sums written out), block headers and scales read
 * through one vector load and {@code lane()} extraction, {@code Float.float16ToFloat} (an
 * intrinsic) for fp16; short loops of a few statements rather than four hand-unrolled copies
 * (C2 leaves loops of this size rolled, so two copies per turn is the measured compromise); no
 * reinterpret round trips (shift shorts as shorts); no vector-valued {@code ?:} or switch (they
 * cost 2x), no shifts by a vector of counts (not intrinsified here), no 64-bit int species; every
 * vector whose exact class C2 cannot see while parsing (a reinterpret's or a conversion's result,
 * a value carried by a loop) cast to it with {@link #IWC} and its siblings. Check
 * allocation per call and {@code -XX:CompileCommand=option,...::dot256,PrintInlining} for
 * "NodeCountInliningCutoff" when changing a kernel.
 */
final class KQuants {
    private KQuants() {}

    static final int QK_K = 256;
    /** ggml's GROUP_MAX_EPS: groups with a smaller absolute maximum count as all zero. */
    static final float GROUP_MAX_EPS = 1e-15f;

    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    // ---- vector species -------------------------------------------------------------------

    /** Full-width shorts, and the bytes (half a vector) that widen into them. */
    static final VectorSpecies<Short> S = VectorShapes.I16;
    static final VectorSpecies<Byte> SB = VectorShapes.I8_HALF;
    /**
     * Shorts for types whose scales change every 16 values (Q2_K, Q3_K, Q6_K): at most 16 lanes,
     * so one vector never straddles two scales; with the bytes that widen into them and the ints
     * of the same bit size.
     */
    static final VectorSpecies<Short> S16 = VectorShapes.I16.length() > 16 ? ShortVector.SPECIES_256 : VectorShapes.I16;
    static final VectorSpecies<Byte> SB16 = VectorSpecies.of(byte.class, VectorShape.forBitSize(S16.vectorBitSize() / 2));
    static final VectorSpecies<Integer> I16W = VectorSpecies.of(int.class, S16.vectorShape());
    static final VectorSpecies<Float> F16W = VectorSpecies.of(float.class, S16.vectorShape());

    // ---- the even/odd kernels ---------------------------------------------------------------

    /**
     * Whether the even/odd decode kernels run: the chosen shape is at least 256 bits (at 128 bits
     * the width-generic kernels run instead). Their vectors hold {@link #KW} chunks of 32 level
     * bytes read as shorts: one at 256 bits, two at 512 (half the instructions per value; on
     * AMD Zen 5 the 512-bit units are full width, and in-cache Q4_K runs 2x the 256-bit speed).
     */
    static final boolean V256 = VectorShapes.SHAPE.vectorBitSize() >= 256;
    /** 32-byte chunks of levels per even/odd vector. */
    static final int KW = Math.max(1, Math.min(512, VectorShapes.SHAPE.vectorBitSize()) / 256);
    private static final VectorShape WIDE = VectorShape.forBitSize(256 * KW);
    /** 16 * KW shorts: one load of 32 * KW level bytes. */
    static final VectorSpecies<Short> SW = VectorSpecies.of(short.class, WIDE);
    static final VectorSpecies<Integer> IW = VectorSpecies.of(int.class, WIDE);
    static final VectorSpecies<Float> FW = VectorSpecies.of(float.class, WIDE);
    static final VectorSpecies<Byte> BW = VectorSpecies.of(byte.class, WIDE);
    static final VectorSpecies<Integer> I2 = IntVector.SPECIES_256;
    static final VectorSpecies<Float> F2 = FloatVector.SPECIES_256;
    /**
     * The vector classes of {@link #IW}, {@link #SW}, {@link #FW}, {@link #I2}, {@link #F2}: a
     * kernel casts each vector it gets from a reinterpret or a conversion with them
     * ({@code IWC.cast(v)}, a checkcast to the final class), so that C2 knows the exact class of
     * every vector when it parses the operations on it. Without the cast it knows only IntVector
     * until it inlines the conversion, and meanwhile inlines the operations after the class
     * profile of the shared Vector API code: Int512Vector and Int256Vector (other kernels), both
     * inlined behind a type test, whose merged result is a boxed vector. That happened in some
     * compilations and not in others, and a boxed kernel ran at a tenth of its speed for the life
     * of the process (Q5_K 1.1 against 9.8 GB/s on one thread).
     */
    static final Class<IntVector> IWC = vectorClass(IW);
    static final Class<ShortVector> SWC = vectorClass(SW);
    static final Class<FloatVector> FWC = vectorClass(FW);
    static final Class<IntVector> I2C = vectorClass(I2);
    static final Class<FloatVector> F2C = vectorClass(F2);

    /** 16 bytes: a block header, or scale bytes that widen into ints. */
    static final VectorSpecies<Byte> B2 = ByteVector.SPECIES_128;
    /** The classes of {@link #B2}, of 16 bytes read as longs and as ints (the header unpacking's vectors). */
    static final Class<ByteVector> B2C = vectorClass(B2);
    static final Class<LongVector> L2C = vectorClass(LongVector.SPECIES_128);
    static final Class<IntVector> I4C = vectorClass(IntVector.SPECIES_128);
    /** 8 bytes: one sub-block-half's scales (Q6_K), widened into the low int lanes of an IW vector. */
    static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    /** 32 bytes: a bit plane shared by the chunks of an even/odd vector (hmask, qh), widened to IW. */
    static final VectorSpecies<Byte> B32 = ByteVector.SPECIES_256;
    /** Two longs: a broadcast long reinterpreted as bytes, eight of which widen into ints. */
    static final VectorSpecies<Long> L2 = LongVector.SPECIES_128;
    /** Lane i of an IW vector: which chunk of the vector it came from (i / 8), times 2. */
    static final IntVector CHUNK2 = IntVector.fromArray(IW, lanes(IW.length(), i -> 2 * (i / 8)), 0);
    /** Lane i: its group of four int lanes (i / 4), i.e. its 16-value scale group within the vector. */
    static final IntVector QUAD = IntVector.fromArray(IW, lanes(IW.length(), i -> i / 4), 0);
    /** Lane i: (i / 4) % 2 + 8 * (i / 8): Q3_K's scale groups, whose two chunks are 8 groups apart. */
    static final IntVector QUAD_H = IntVector.fromArray(IW, lanes(IW.length(), i -> (i / 4) % 2 + 8 * (i / 8)), 0);
    /** Copies the low 8 int lanes into every group of 8 (identity at 256 bits). */
    static final VectorShuffle<Integer> DUP_LOW = VectorShuffle.fromOp(IW, i -> i % 8);
    /** Int lanes 8..15 (none at 256 bits): the second chunk of a 512-bit vector. */
    static final VectorMask<Integer> SECOND_CHUNK = VectorMask.fromLong(IW, 0xFF00L & ((1L << IW.length()) - 1));

    /**
     * The Q4_K header's eight 6-bit scales and eight mins unpacked in a 16-byte vector (scales in
     * bytes 0..7, mins in 8..15; see {@link #scaleK4}; Q5_K's header is the same, its kernel still
     * unpacks it in scalar code): each result byte is a primary
     * header byte ({@link #K4_PRIMARY}, its high nibble where {@link #K4_HIGH} is set) masked to 6
     * or 4 bits ({@link #K4_PRIMARY_MASK}), or'ed with the top two bits of a secondary byte
     * ({@link #K4_SECONDARY}) moved to bits 4..5. Indices count from the header's start (the
     * scales begin at byte 4). Eight vector instructions where the scalar unpacking took about 40.
     */
    static final VectorShuffle<Byte> K4_PRIMARY = VectorShuffle.fromValues(B2,
            4, 5, 6, 7, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);
    static final VectorShuffle<Byte> K4_SECONDARY = VectorShuffle.fromValues(B2,
            0, 0, 0, 0, 4, 5, 6, 7, 0, 0, 0, 0, 8, 9, 10, 11);
    static final VectorMask<Byte> K4_HIGH = VectorMask.fromLong(B2, 0xF000L);
    static final ByteVector K4_PRIMARY_MASK = ByteVector.fromArray(B2,
            new byte[] {63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 15, 15, 15, 15}, 0);
    static final ByteVector K4_SECONDARY_MASK = ByteVector.fromArray(B2,
            new byte[] {0, 0, 0, 0, 0x30, 0x30, 0x30, 0x30, 0, 0, 0, 0, 0x30, 0x30, 0x30, 0x30}, 0);

    /**
     * Lane i to lane i ^ 8, i ^ 4, i ^ 2, i ^ 1 of an FW vector: adding a vector to its own
     * rearrangement by each in turn leaves the sum of all lanes in every lane, through lanewise
     * adds in a fixed order (bit for bit the same interpreted or compiled, unlike reduceLanes) and
     * with no call (a lane-sum helper stays a call in the kernels and cost a quarter of a short
     * row's time). FOLD8 only at 512 bits.
     */
    static final VectorShuffle<Float> FOLD8 = VectorShuffle.fromOp(FW, i -> (i ^ 8) % FW.length());
    static final VectorShuffle<Float> FOLD4 = VectorShuffle.fromOp(FW, i -> i ^ 4);
    static final VectorShuffle<Float> FOLD2 = VectorShuffle.fromOp(FW, i -> i ^ 2);
    static final VectorShuffle<Float> FOLD1 = VectorShuffle.fromOp(FW, i -> i ^ 1);

    /** The final class of the species' vectors, typed as the vector family it belongs to. */
    @SuppressWarnings("unchecked")
    private static <V> Class<V> vectorClass(VectorSpecies<?> species) {
        return (Class<V>) species.vectorType();
    }

    private static int[] lanes(int n, java.util.function.IntUnaryOperator f) {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
            v[i] = f.applyAsInt(i);
        }
        return v;
    }

    /** Widening load of S.length() bytes from a segment. */
    static ShortVector loadS(MemorySegment m, long off) {
        return (ShortVector) ByteVector.fromMemorySegment(SB, m, off, LE).convertShape(VectorOperators.B2S, S, 0);
    }

    /** Widening load of S.length() bytes from an array. */
    static ShortVector loadS(byte[] a, int off) {
        return (ShortVector) ByteVector.fromArray(SB, a, off).convertShape(VectorOperators.B2S, S, 0);
    }

    static ShortVector loadS16(MemorySegment m, long off) {
        return (ShortVector) ByteVector.fromMemorySegment(SB16, m, off, LE).convertShape(VectorOperators.B2S, S16, 0);
    }

    static ShortVector loadS16(byte[] a, int off) {
        return (ShortVector) ByteVector.fromArray(SB16, a, off).convertShape(VectorOperators.B2S, S16, 0);
    }

    /** Bytes per widening-to-int load: I8_QUARTER lanes, one or more int vectors' worth. */
    static final int QB = VectorShapes.I8_QUARTER.length();
    /** Int vectors one quarter-vector byte load widens into (2 at 128 bits, else 1). */
    static final int QPARTS = QB / VectorShapes.I32.length();

    static ByteVector loadQ(MemorySegment m, long off) {
        return ByteVector.fromMemorySegment(VectorShapes.I8_QUARTER, m, off, LE);
    }

    /** Part p of a quarter-vector byte load, sign-extended to ints. */
    static IntVector toInts(ByteVector v, int p) {
        return (IntVector) v.convertShape(VectorOperators.B2I, VectorShapes.I32, p);
    }

    /**
     * Sums adjacent short lanes into int lanes: int lane j = s[2j] + s[2j+1]. Valid when every
     * such pair sum fits in a short (the callers' bounds are stated where they call it).
     */
    static IntVector pairSum(ShortVector s) {
        IntVector v = (IntVector) s.reinterpretAsInts();
        return v.add(v.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
    }

    /** As {@link #pairSum} for any short values (one more instruction, no range condition). */
    static IntVector widenSum(ShortVector s) {
        IntVector v = (IntVector) s.reinterpretAsInts();
        return v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(v.lanewise(VectorOperators.ASHR, 16));
    }

    // ---- scalar helpers -------------------------------------------------------------------

    /** ggml's nearest_int: the float magic-number rounding, half to even for |f| <= 4194303. */
    static int nearestInt(float f) {
        float v = f + 12582912f;
        return (Float.floatToRawIntBits(v) & 0x007fffff) - 0x00400000;
    }

    static float fp16(MemorySegment m, long off) {
        return Float.float16ToFloat(m.get(SHORT_LE, off));
    }

    static float fp16(byte[] b, int off) {
        return Float.float16ToFloat((short) ((b[off] & 0xFF) | (b[off + 1] << 8)));
    }

    /** Round to fp16 (nearest even) and store little-endian. */
    static void putFp16(byte[] b, int off, float f) {
        short h = Float.floatToFloat16(f);
        b[off] = (byte) h;
        b[off + 1] = (byte) (h >> 8);
    }

    /** Value of an fp16 after rounding f to it. */
    static float roundFp16(float f) {
        return Float.float16ToFloat(Float.floatToFloat16(f));
    }

    /**
     * Q4_K/Q5_K packed 6-bit scale (sub-block j, 0..7) from the 12 scale bytes at s[off].
     * (ggml's get_scale_min_k4, scale half.)
     */
    static int scaleK4(byte[] s, int off, int j) {
        if (j < 4) {
            return s[off + j] & 63;
        }
        return (s[off + j + 4] & 0xF) | (((s[off + j - 4] & 0xFF) >> 6) << 4);
    }

    /** Q4_K/Q5_K packed 6-bit min of sub-block j. */
    static int minK4(byte[] s, int off, int j) {
        if (j < 4) {
            return s[off + j + 4] & 63;
        }
        return ((s[off + j + 4] & 0xFF) >> 4) | (((s[off + j] & 0xFF) >> 6) << 4);
    }

    /**
     * The eight Q4_K/Q5_K 6-bit scales, one per byte of the result (sub-block j in bits 8j..8j+7),
     * from the 12 packed bytes read as a little-endian long (bytes 0..7) and int (bytes 8..11).
     */
    static long unpackScalesK4(long lo8, int hi4) {
        int b0 = (int) lo8;
        int low = b0 & 0x3F3F3F3F;
        int high = (hi4 & 0x0F0F0F0F) | (((b0 >>> 6) & 0x03030303) << 4);
        return (low & 0xFFFFFFFFL) | ((long) high << 32);
    }

    /** The eight Q4_K/Q5_K 6-bit mins, packed as {@link #unpackScalesK4}. */
    static long unpackMinsK4(long lo8, int hi4) {
        int b4 = (int) (lo8 >>> 32);
        int low = b4 & 0x3F3F3F3F;
        int high = ((hi4 >>> 4) & 0x0F0F0F0F) | (((b4 >>> 6) & 0x03030303) << 4);
        return (low & 0xFFFFFFFFL) | ((long) high << 32);
    }

    /**
     * Q3_K 6-bit scale j (0..15) minus 32, from the 12 packed bytes at s[off]: low 4 bits from
     * byte j (j < 8) or the high nibble of byte j-8, high 2 bits from byte 8 + j%4.
     */
    static int scaleQ3(byte[] s, int off, int j) {
        int lo = j < 8 ? s[off + j] & 0xF : (s[off + j - 8] & 0xFF) >> 4;
        int hi = ((s[off + 8 + j % 4] & 0xFF) >> (2 * (j / 4))) & 3;
        return (lo | hi << 4) - 32;
    }

    /**
     * Q3_K scales 0..7 (unsigned 6-bit, before the -32) one per byte, from the 12 packed bytes read
     * as a little-endian long (bytes 0..7) and int (bytes 8..11).
     */
    static long unpackScalesQ3Lo(long lo8, int hi4) {
        int b0 = (int) lo8;
        int b4 = (int) (lo8 >>> 32);
        int s0 = (b0 & 0x0F0F0F0F) | ((hi4 & 0x03030303) << 4);
        int s4 = (b4 & 0x0F0F0F0F) | (((hi4 >>> 2) & 0x03030303) << 4);
        return (s0 & 0xFFFFFFFFL) | ((long) s4 << 32);
    }

    /** Q3_K scales 8..15, as {@link #unpackScalesQ3Lo}. */
    static long unpackScalesQ3Hi(long lo8, int hi4) {
        int b0 = (int) lo8;
        int b4 = (int) (lo8 >>> 32);
        int s8 = ((b0 >>> 4) & 0x0F0F0F0F) | (((hi4 >>> 4) & 0x03030303) << 4);
        int s12 = ((b4 >>> 4) & 0x0F0F0F0F) | (((hi4 >>> 6) & 0x03030303) << 4);
        return (s8 & 0xFFFFFFFFL) | ((long) s12 << 32);
    }

    // ---- llama.cpp reference quantization helpers ----------------------------------------

    /**
     * make_qkx2_quants: n values x[xo..] with weights w[wo..] to levels 0..nmax with a scale and
     * a min (min <= 0), searching nstep+1 candidate scales by weighted least squares. Levels go
     * to L[lo..]; the returned scale is the first element, -min is written to mins[mo].
     */
    static float makeQkx2Quants(int n, int nmax, float[] x, int xo, float[] w, int wo, byte[] L, int lo,
            float[] mins, int mo, byte[] laux, float rmin, float rdelta, int nstep, boolean useMad) {
        return makeQkx2Quants(n, nmax, x, xo, w, wo, L, lo, mins, mo, laux, rmin, rdelta, nstep, useMad, null);
    }

    /** As above; with scratch (and a vector unit) the candidate loop runs in {@link CandidateSearch}, same bytes. */
    static float makeQkx2Quants(int n, int nmax, float[] x, int xo, float[] w, int wo, byte[] L, int lo,
            float[] mins, int mo, byte[] laux, float rmin, float rdelta, int nstep, boolean useMad,
            CandidateSearch.Scratch scratch) {
        float min = x[xo];
        float max = x[xo];
        float sumW = w[wo];
        float sumX = sumW * x[xo];
        for (int i = 1; i < n; i++) {
            float xi = x[xo + i];
            if (xi < min) {
                min = xi;
            }
            if (xi > max) {
                max = xi;
            }
            float wi = w[wo + i];
            sumW += wi;
            sumX += wi * xi;
        }
        if (min > 0) {
            min = 0;
        }
        if (max == min) {
            for (int i = 0; i < n; i++) {
                L[lo + i] = 0;
            }
            mins[mo] = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++) {
            int l = nearestInt(iscale * (x[xo + i] - min));
            l = Math.max(0, Math.min(nmax, l));
            L[lo + i] = (byte) l;
            float diff = scale * l + min - x[xo + i];
            diff = useMad ? Math.abs(diff) : diff * diff;
            bestError += w[wo + i] * diff;
        }
        if (nstep < 1) {
            mins[mo] = -min;
            return scale;
        }
        if (scratch != null && CandidateSearch.ENABLED) {
            float[] out = scratch.out;
            CandidateSearch.qkx2Candidates(n, nmax, x, xo, w, wo, L, lo, rmin, rdelta, nstep, useMad, min, max, sumW,
                    sumX, bestError, scale, out, scratch);
            mins[mo] = -out[1];
            return out[0];
        }
        for (int is = 0; is <= nstep; is++) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0;
            float sumL2 = 0;
            float sumXL = 0;
            for (int i = 0; i < n; i++) {
                int l = nearestInt(iscale * (x[xo + i] - min));
                l = Math.max(0, Math.min(nmax, l));
                laux[i] = (byte) l;
                float wi = w[wo + i];
                sumL += wi * l;
                sumL2 += wi * l * l;
                sumXL += wi * l * x[xo + i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0) {
                float thisScale = (sumW * sumXL - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; i++) {
                    float diff = thisScale * laux[i] + thisMin - x[xo + i];
                    diff = useMad ? Math.abs(diff) : diff * diff;
                    curError += w[wo + i] * diff;
                }
                if (curError < bestError) {
                    System.arraycopy(laux, 0, L, lo, n);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        mins[mo] = -min;
        return scale;
    }

    /**
     * make_qx_quants with rmse_type 1 and no importance weights (weights x^2): signed levels
     * -nmax..nmax-1 stored as level+nmax in L[lo..]; returns the scale.
     */
    static float makeQxQuants(int n, int nmax, float[] x, int xo, byte[] L, int lo) {
        return makeQxQuants(n, nmax, x, xo, L, lo, null);
    }

    /** As above; with scratch (and a vector unit) the candidate loop runs in {@link CandidateSearch}, same bytes. */
    static float makeQxQuants(int n, int nmax, float[] x, int xo, byte[] L, int lo, CandidateSearch.Scratch scratch) {
        float max = QuantMath.largestMagnitude(x, xo, n);
        if (Math.abs(max) < GROUP_MAX_EPS) {
            for (int i = 0; i < n; i++) {
                L[lo + i] = 0;
            }
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; i++) {
            float xi = x[xo + i];
            int l = nearestInt(iscale * xi);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            L[lo + i] = (byte) (l + nmax);
            float w = xi * xi;
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0f;
        float best = scale * sumlx;
        if (scratch != null && CandidateSearch.ENABLED) {
            return CandidateSearch.qxCandidates(n, nmax, x, xo, L, lo, max, scale, best, scratch);
        }
        for (int is = -9; is <= 9; is++) {
            if (is == 0) {
                continue;
            }
            iscale = -(nmax + 0.1f * is) / max;
            sumlx = 0;
            suml2 = 0;
            for (int i = 0; i < n; i++) {
                float xi = x[xo + i];
                int l = nearestInt(iscale * xi);
                l = Math.max(-nmax, Math.min(nmax - 1, l));
                float w = xi * xi;
                sumlx += w * xi * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                for (int i = 0; i < n; i++) {
                    int l = nearestInt(iscale * x[xo + i]);
                    L[lo + i] = (byte) (nmax + Math.max(-nmax, Math.min(nmax - 1, l)));
                }
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /**
     * make_q3_quants with do_rmse: signed levels -nmax..nmax-1, refined by up to five passes that
     * move single levels while the weighted (x^2) fit improves; stored as level+nmax.
     */
    static float makeQ3Quants(int n, int nmax, float[] x, int xo, byte[] L, int lo) {
        float max = QuantMath.largestMagnitude(x, xo, n);
        if (Math.abs(max) < GROUP_MAX_EPS) {
            for (int i = 0; i < n; i++) {
                L[lo + i] = 0;
            }
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; i++) {
            float xi = x[xo + i];
            int l = nearestInt(iscale * xi);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            L[lo + i] = (byte) l;
            float w = xi * xi;
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        for (int itry = 0; itry < 5; itry++) {
            int changed = 0;
            for (int i = 0; i < n; i++) {
                float xi = x[xo + i];
                float w = xi * xi;
                int li = L[lo + i];
                float slx = sumlx - w * xi * li;
                if (slx > 0) {
                    float sl2 = suml2 - w * li * li;
                    int newL = nearestInt(xi * sl2 / slx);
                    newL = Math.max(-nmax, Math.min(nmax - 1, newL));
                    if (newL != li) {
                        slx += w * xi * newL;
                        sl2 += w * newL * newL;
                        if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                            L[lo + i] = (byte) newL;
                            sumlx = slx;
                            suml2 = sl2;
                            changed++;
                        }
                    }
                }
            }
            if (changed == 0) {
                break;
            }
        }
        for (int i = 0; i < n; i++) {
            L[lo + i] += (byte) nmax;
        }
        return suml2 > 0f ? sumlx / suml2 : 0f;
    }

    /** Checks a block-aligned count and returns the number of super-blocks. */
    static int superBlocks(int count) {
        if (count % QK_K != 0) {
            throw new IllegalArgumentException("K-quant value count must be a multiple of 256: " + count);
        }
        return count / QK_K;
    }
}
