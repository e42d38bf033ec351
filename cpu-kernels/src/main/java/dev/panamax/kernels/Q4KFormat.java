package dev.panamax.kernels;

import static dev.panamax.kernels.KQuants.IWC;
import static dev.panamax.kernels.KQuants.SWC;
import static dev.panamax.kernels.KQuants.FWC;
import static dev.panamax.kernels.KQuants.I2C;
import static dev.panamax.kernels.KQuants.F2C;
import static dev.panamax.kernels.KQuants.B2C;
import static dev.panamax.kernels.KQuants.L2C;
import static dev.panamax.kernels.KQuants.I4C;
import static dev.panamax.kernels.KQuants.B2;
import static dev.panamax.kernels.KQuants.F2;
import static dev.panamax.kernels.KQuants.I2;
import static dev.panamax.kernels.KQuants.IW;
import static dev.panamax.kernels.KQuants.KW;
import static dev.panamax.kernels.KQuants.SW;
import static dev.panamax.kernels.KQuants.BW;
import static dev.panamax.kernels.KQuants.FW;
import static dev.panamax.kernels.KQuants.INT_LE;
import static dev.panamax.kernels.KQuants.LE;
import static dev.panamax.kernels.KQuants.LONG_LE;
import static dev.panamax.kernels.KQuants.QK_K;
import static dev.panamax.kernels.KQuants.S;
import static dev.panamax.kernels.KQuants.fp16;
import static dev.panamax.kernels.KQuants.loadS;
import static dev.panamax.kernels.KQuants.nearestInt;
import static dev.panamax.kernels.KQuants.pairSum;
import static dev.panamax.kernels.KQuants.superBlocks;
import static dev.panamax.kernels.VectorShapes.F32;
import static dev.panamax.kernels.VectorShapes.I32;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q4_K: super-blocks of 256 values in 144 bytes: fp16 d, fp16 dmin, 12 bytes of packed 6-bit
 * scales and mins for eight sub-blocks of 32, 128 bytes of 4-bit levels. Value =
 * d*sc*q - dmin*m. Chunk c (64 values) uses the low nibbles of qs[32c..32c+32) for sub-block 2c
 * and the high nibbles for sub-block 2c+1.
 */
final class Q4KFormat implements QuantFormat {
    static final int BLOCK = 144;

    @Override
    public GgmlType type() {
        return GgmlType.Q4_K;
    }

    @Override
    public ActivationType activationType() {
        return ActivationType.Q8_K;
    }

    @Override
    public void dequantizeReference(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        int nb = superBlocks(count);
        byte[] blk = new byte[BLOCK];
        for (int b = 0; b < nb; b++) {
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, srcOffset + (long) b * BLOCK, blk, 0, BLOCK);
            float d = fp16(blk, 0);
            float min = fp16(blk, 2);
            int y = dstOffset + b * QK_K;
            for (int c = 0; c < 4; c++) {
                float d1 = d * KQuants.scaleK4(blk, 4, 2 * c);
                float m1 = min * KQuants.minK4(blk, 4, 2 * c);
                float d2 = d * KQuants.scaleK4(blk, 4, 2 * c + 1);
                float m2 = min * KQuants.minK4(blk, 4, 2 * c + 1);
                for (int l = 0; l < 32; l++) {
                    int q = blk[16 + 32 * c + l] & 0xFF;
                    dst[y + 64 * c + l] = d1 * (q & 0xF) - m1;
                    dst[y + 64 * c + 32 + l] = d2 * (q >> 4) - m2;
                }
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        int nb = superBlocks(count);
        for (int b = 0; b < nb; b++) {
            long o = srcOffset + (long) b * BLOCK;
            // the 16-byte header through one vector load (scalar segment reads become calls in big compilations)
            LongVector hdr = ByteVector.fromMemorySegment(KQuants.B2, src, o, LE).reinterpretAsLongs();
            long hd0 = hdr.lane(0);
            long hd1 = hdr.lane(1);
            float d = Float.float16ToFloat((short) hd0);
            float min = Float.float16ToFloat((short) (hd0 >>> 16));
            long s8 = (hd0 >>> 32) | (hd1 << 32);
            int s4 = (int) (hd1 >>> 32);
            long sc = KQuants.unpackScalesK4(s8, s4);
            long mn = KQuants.unpackMinsK4(s8, s4);
            int y = dstOffset + b * QK_K;
            for (int c = 0; c < 4; c++) {
                // d*sc*q is exact in float (11 + 6 + 4 significant bits), so the fused form
                // rounds once, as the reference's product-then-subtract does.
                FloatVector d1 = FloatVector.broadcast(F32, d * (int) ((sc >>> (16 * c)) & 0xFF));
                FloatVector m1 = FloatVector.broadcast(F32, -(min * (int) ((mn >>> (16 * c)) & 0xFF)));
                FloatVector d2 = FloatVector.broadcast(F32, d * (int) ((sc >>> (16 * c + 8)) & 0xFF));
                FloatVector m2 = FloatVector.broadcast(F32, -(min * (int) ((mn >>> (16 * c + 8)) & 0xFF)));
                for (int l0 = 0; l0 < 32; l0 += KQuants.QB) {
                    ByteVector qb = ByteVector.fromMemorySegment(VectorShapes.I8_QUARTER, src, o + 16 + 32 * c + l0, LE);
                    for (int p = 0; p < KQuants.QPARTS; p++) {
                        int l = l0 + p * I32.length();
                        IntVector q = (IntVector) qb.convertShape(VectorOperators.B2I, VectorShapes.I32, p);
                        FloatVector lo = (FloatVector) q.and(0xF).convertShape(VectorOperators.I2F, VectorShapes.F32, 0);
                        FloatVector hi = (FloatVector) q.lanewise(VectorOperators.LSHR, 4).and(0xF).convertShape(VectorOperators.I2F, VectorShapes.F32, 0);
                        lo.fma(d1, m1).intoArray(dst, y + 64 * c + l);
                        hi.fma(d2, m2).intoArray(dst, y + 64 * c + 32 + l);
                    }
                }
            }
        }
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int count) {
        int nb = superBlocks(count);
        byte[] L = new byte[QK_K];
        byte[] laux = new byte[32];
        float[] weights = new float[32];
        float[] mins = new float[8];
        float[] scales = new float[8];
        byte[] y = new byte[BLOCK];
        CandidateSearch.Scratch scratch = new CandidateSearch.Scratch();
        for (int b = 0; b < nb; b++) {
            int x = srcOffset + b * QK_K;
            java.util.Arrays.fill(y, (byte) 0);
            float maxScale = 0;
            float maxMin = 0;
            for (int j = 0; j < 8; j++) {
                float sumX2 = 0;
                for (int l = 0; l < 32; l++) {
                    sumX2 += src[x + 32 * j + l] * src[x + 32 * j + l];
                }
                float avX = (float) Math.sqrt(sumX2 / 32);
                for (int l = 0; l < 32; l++) {
                    weights[l] = avX + Math.abs(src[x + 32 * j + l]);
                }
                scales[j] = KQuants.makeQkx2Quants(32, 15, src, x + 32 * j, weights, 0, L, 32 * j, mins, j, laux,
                        -1f, 0.1f, 20, false, scratch);
                if (scales[j] > maxScale) {
                    maxScale = scales[j];
                }
                if (mins[j] > maxMin) {
                    maxMin = mins[j];
                }
            }
            packScalesK4(y, 4, scales, mins, maxScale, maxMin);
            KQuants.putFp16(y, 0, maxScale / 63f);
            KQuants.putFp16(y, 2, maxMin / 63f);
            requantizeK4(src, x, y, L, 15);
            for (int c = 0; c < 4; c++) {
                for (int l = 0; l < 32; l++) {
                    y[16 + 32 * c + l] = (byte) (L[64 * c + l] | (L[64 * c + 32 + l] << 4));
                }
            }
            MemorySegment.copy(y, 0, dst, ValueLayout.JAVA_BYTE, dstOffset + (long) b * BLOCK, BLOCK);
        }
    }

    /**
     * The 6-bit scales and mins of eight sub-blocks into the 12 bytes at y[off] (shared with
     * Q5_K): ls = min(63, nint(63/maxScale*scale)) as uint8, likewise lm.
     */
    static void packScalesK4(byte[] y, int off, float[] scales, float[] mins, float maxScale, float maxMin) {
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        for (int j = 0; j < 8; j++) {
            int ls = Math.min(63, nearestInt(invScale * scales[j]) & 0xFF);
            int lm = Math.min(63, nearestInt(invMin * mins[j]) & 0xFF);
            if (j < 4) {
                y[off + j] = (byte) ls;
                y[off + j + 4] = (byte) lm;
            } else {
                y[off + j + 4] = (byte) ((ls & 0xF) | ((lm & 0xF) << 4));
                y[off + j - 4] |= (byte) ((ls >> 4) << 6);
                y[off + j] |= (byte) ((lm >> 4) << 6);
            }
        }
    }

    /**
     * Recomputes the levels of every sub-block with a non-zero scale from the stored fp16 d, dmin
     * and 6-bit scales (block header at y[0..16)): l = clamp(nint((x + dmin*m)/(d*sc)), 0, nmax).
     */
    static void requantizeK4(float[] src, int x, byte[] y, byte[] L, int nmax) {
        float d0 = fp16(y, 0);
        float dmin0 = fp16(y, 2);
        for (int j = 0; j < 8; j++) {
            float d = d0 * KQuants.scaleK4(y, 4, j);
            if (d == 0) {
                continue;
            }
            float dm = dmin0 * KQuants.minK4(y, 4, j);
            for (int ii = 0; ii < 32; ii++) {
                int l = nearestInt((src[x + 32 * j + ii] + dm) / d);
                L[32 * j + ii] = (byte) Math.max(0, Math.min(nmax, l));
            }
        }
    }

    /**
     * The even/odd kernel ({@link KQuants#V256}), over a slice of the row. Each chunk of 64 values
     * is 32 level bytes, read as 16 shorts (two chunks, 32 shorts, at 512 bits): lane i holds bytes
     * 2i and 2i+1, so four int-wide shift-and-masks give the low nibbles of the even and odd bytes
     * (sub-block 2c, values 2i and 2i+1) and their high nibbles (sub-block 2c+1), which multiply
     * the even/odd activations ({@link Activations#q8_KPairs} stride 2: a 512-bit vector holds
     * sub-blocks 2c and 2c+2) with no widening or shuffling: 2 products per short lane (at most
     * 2*15*127), pair sums into ints, times each lane's sub-block scale (picked out of the eight
     * with one permute). The mins go through the per-32 activation sums in 8 int lanes. Written
     * with Vector API calls only: see {@link KQuants} on C2.
     */
    private static float dotEvenOdd(MemorySegment seg, long rowOffset, Activations x, int token) {
        int nb = x.dim() / QK_K;
        short[] a = x.q8_KPairs(2);
        float[] ad = x.q8_KScale();
        int[] s32 = x.q8_KSum32();
        // the row as its own slice: offsets in it are ints of the loop, and C2 hoists their bounds checks
        MemorySegment w = seg.asSlice(rowOffset, (long) nb * BLOCK);
        FloatVector acc = FloatVector.zero(FW);
        FloatVector macc = FloatVector.zero(F2);
        for (int b = 0; b < nb; b++) {
            int o = b * BLOCK;
            int ab = token * nb + b;
            float da = ad[ab];
            ByteVector hdr = B2C.cast(ByteVector.fromMemorySegment(B2, w, (long) o, LE));
            long h0 = L2C.cast(hdr.reinterpretAsLongs()).lane(0);
            // the eight scales (bytes 0..7) and mins (8..15) unpacked in a vector register (see KQuants.K4_PRIMARY)
            ByteVector primary = B2C.cast(hdr.rearrange(KQuants.K4_PRIMARY));
            ByteVector secondary = B2C.cast(hdr.rearrange(KQuants.K4_SECONDARY));
            ByteVector primaryHigh = B2C.cast(I4C.cast(primary.reinterpretAsInts()).lanewise(VectorOperators.LSHR, 4)
                    .reinterpretAsBytes());
            ByteVector secondaryTop = B2C.cast(I4C.cast(secondary.reinterpretAsInts()).lanewise(VectorOperators.LSHR, 2)
                    .reinterpretAsBytes());
            ByteVector sm = B2C.cast(B2C.cast(B2C.cast(primary.blend(primaryHigh, KQuants.K4_HIGH))
                    .and(KQuants.K4_PRIMARY_MASK)).or(secondaryTop.and(KQuants.K4_SECONDARY_MASK)));
            // the scales in int lanes 0..7 (the mins follow in 8..15 at 512 bits), the mins in 8 lanes
            IntVector scales = IWC.cast(sm.convertShape(VectorOperators.B2I, IW, 0));
            IntVector mn = I2C.cast(sm.convertShape(VectorOperators.B2I, I2, 1));
            macc = F2C.cast(mn.mul(IntVector.fromArray(I2, s32, 8 * ab)).convertShape(VectorOperators.I2F, F2, 0))
                    .fma(FloatVector.broadcast(F2, Float.float16ToFloat((short) (h0 >>> 16)) * da), macc);
            int ao = QK_K * ab;
            IntVector isum = IntVector.zero(IW);
            for (int g = 0; g < 4 / KW; g++) {
                IntVector q = IWC.cast(ByteVector.fromMemorySegment(BW, w, (long) (o + 16 + 32 * KW * g), LE).reinterpretAsInts());
                ShortVector lowEven = SWC.cast(q.and(0x000F000F).reinterpretAsShorts());
                ShortVector highEven = SWC.cast(q.lanewise(VectorOperators.LSHR, 4).and(0x000F000F).reinterpretAsShorts());
                ShortVector lowOdd = SWC.cast(q.lanewise(VectorOperators.LSHR, 8).and(0x000F000F).reinterpretAsShorts());
                ShortVector highOdd = SWC.cast(q.lanewise(VectorOperators.LSHR, 12).and(0x000F000F).reinterpretAsShorts());
                int e = ao + 64 * KW * g;
                IntVector lo = IWC.cast(SWC.cast(lowEven.mul(ShortVector.fromArray(SW, a, e)))
                        .add(lowOdd.mul(ShortVector.fromArray(SW, a, e + 16 * KW))).reinterpretAsInts());
                IntVector hi = IWC.cast(SWC.cast(highEven.mul(ShortVector.fromArray(SW, a, e + 32 * KW)))
                        .add(highOdd.mul(ShortVector.fromArray(SW, a, e + 48 * KW))).reinterpretAsInts());
                // lane i's chunk is KW*g + i/8: low sub-block twice that, high one more
                IntVector lowScale = KQuants.CHUNK2.add(2 * KW * g).selectFrom(scales);
                // pair sums: (x + (x << 16)) >> 16 is the sum of an int lane's two shorts
                // (the casts here and below: see KQuants.IWC; isum is carried by the loop)
                isum = IWC.cast(IWC.cast(isum).add(IWC.cast(lo.add(lo.lanewise(VectorOperators.LSHL, 16)))
                                .lanewise(VectorOperators.ASHR, 16).mul(lowScale)))
                        .add(IWC.cast(hi.add(hi.lanewise(VectorOperators.LSHL, 16))).lanewise(VectorOperators.ASHR, 16)
                                .mul(KQuants.CHUNK2.add(2 * KW * g + 1).selectFrom(scales)));
            }
            acc = FWC.cast(IWC.cast(isum).convertShape(VectorOperators.I2F, FW, 0)).fma(FloatVector.broadcast(FW, Float.float16ToFloat((short) h0) * da), acc);
        }
        // the lane sum of both accumulators, folded in place (see KQuants.FOLD8)
        FloatVector sum = FWC.cast(acc).sub(FWC.cast(F2C.cast(macc).reinterpretShape(FW, 0)));
        if (KW == 2) {
            sum = sum.add(sum.rearrange(KQuants.FOLD8));
        }
        sum = sum.add(sum.rearrange(KQuants.FOLD4));
        sum = sum.add(sum.rearrange(KQuants.FOLD2));
        return sum.add(sum.rearrange(KQuants.FOLD1)).lane(0);
    }

    @Override
    public float dot(MemorySegment w, long rowOffset, Activations x, int token) {
        if (KQuants.V256) {
            return dotEvenOdd(w, rowOffset, x, token);
        }
        int n = x.dim();
        int nb = n / QK_K;
        byte[] a = x.q8_K();
        float[] ad = x.q8_KScale();
        int[] bsum = x.q8_KSum16();
        FloatVector acc = FloatVector.zero(F32);
        float minAcc = 0;
        for (int b = 0; b < nb; b++) {
            long o = rowOffset + (long) b * BLOCK;
            float da = ad[token * nb + b];
            long s8 = w.get(LONG_LE, o + 4);
            int s4 = w.get(INT_LE, o + 12);
            long sc = KQuants.unpackScalesK4(s8, s4);
            long mn = KQuants.unpackMinsK4(s8, s4);
            int g = (token * nb + b) * 16;
            int msum = 0;
            for (int j = 0; j < 8; j++) {
                msum += (int) ((mn >>> (8 * j)) & 0xFF) * (bsum[g + 2 * j] + bsum[g + 2 * j + 1]);
            }
            minAcc += fp16(w, o + 2) * da * msum;
            int ao = (token * nb + b) * QK_K;
            long q = o + 16;
            IntVector isum = IntVector.zero(I32);
            for (int c = 0; c < 4; c++) {
                // per lane: at most 4 products of 15*127, pairs summed: < 2^15
                ShortVector p0 = ShortVector.zero(S);
                ShortVector p1 = ShortVector.zero(S);
                for (int k = 0; k < 32; k += S.length()) {
                    ShortVector v = loadS(w, q + 32 * c + k);
                    ShortVector lo = v.and((short) 0xF);
                    ShortVector hi = v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF);
                    p0 = p0.add(lo.mul(loadS(a, ao + 64 * c + k)));
                    p1 = p1.add(hi.mul(loadS(a, ao + 64 * c + 32 + k)));
                }
                isum = isum.add(pairSum(p0).mul((int) (sc >>> (16 * c)) & 0xFF))
                        .add(pairSum(p1).mul((int) (sc >>> (16 * c + 8)) & 0xFF));
            }
            FloatVector fs = (FloatVector) isum.convertShape(VectorOperators.I2F, VectorShapes.F32, 0);
            acc = fs.fma(FloatVector.broadcast(F32, fp16(w, o) * da), acc);
        }
        return FloatLanes.sum(acc) - minAcc;
    }
}
