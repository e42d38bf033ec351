package dev.panamax.kernels;

import static dev.panamax.kernels.KQuants.IWC;
import static dev.panamax.kernels.KQuants.SWC;
import static dev.panamax.kernels.KQuants.FWC;
import static dev.panamax.kernels.KQuants.I2C;
import static dev.panamax.kernels.KQuants.F2C;
import static dev.panamax.kernels.KQuants.B2;
import static dev.panamax.kernels.KQuants.F16W;
import static dev.panamax.kernels.KQuants.F2;
import static dev.panamax.kernels.KQuants.I2;
import static dev.panamax.kernels.KQuants.LE;
import static dev.panamax.kernels.KQuants.I16W;
import static dev.panamax.kernels.KQuants.QK_K;
import static dev.panamax.kernels.KQuants.B32;
import static dev.panamax.kernels.KQuants.B8;
import static dev.panamax.kernels.KQuants.FW;
import static dev.panamax.kernels.KQuants.BW;
import static dev.panamax.kernels.KQuants.SW;
import static dev.panamax.kernels.KQuants.KW;
import static dev.panamax.kernels.KQuants.IW;
import static dev.panamax.kernels.KQuants.S16;
import static dev.panamax.kernels.KQuants.fp16;
import static dev.panamax.kernels.KQuants.loadS16;
import static dev.panamax.kernels.KQuants.nearestInt;
import static dev.panamax.kernels.KQuants.pairSum;
import static dev.panamax.kernels.KQuants.superBlocks;
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
 * Q6_K: super-blocks of 256 values in 210 bytes: ql[128] low nibbles, qh[64] high 2-bit pairs,
 * 16 int8 scales (one per 16 values), fp16 d. Value e = 128h + 32k + l: low nibble of
 * ql[64h + l + 32*(k&amp;1)] (k &lt; 2) or its high nibble (k &gt;= 2), high bits (qh[32h+l] &gt;&gt; 2k) &amp; 3,
 * q = (lo | hi &lt;&lt; 4) - 32; x = d*scale[e/16]*q.
 */
final class Q6KFormat implements QuantFormat {
    static final int BLOCK = 210;

    @Override
    public GgmlType type() {
        return GgmlType.Q6_K;
    }

    @Override
    public ActivationType activationType() {
        return ActivationType.Q8_K;
    }

    /** Level (-32..31) of value e of the block in blk. */
    private static int level(byte[] blk, int e) {
        int h = e / 128;
        int k = (e % 128) / 32;
        int l = e % 32;
        int ql = blk[64 * h + l + 32 * (k & 1)] & 0xFF;
        int lo = k < 2 ? ql & 0xF : ql >> 4;
        int hi = ((blk[128 + 32 * h + l] & 0xFF) >> (2 * k)) & 3;
        return (lo | hi << 4) - 32;
    }

    @Override
    public void dequantizeReference(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        int nb = superBlocks(count);
        byte[] blk = new byte[BLOCK];
        for (int b = 0; b < nb; b++) {
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, srcOffset + (long) b * BLOCK, blk, 0, BLOCK);
            float d = fp16(blk, 208);
            for (int e = 0; e < QK_K; e++) {
                dst[dstOffset + b * QK_K + e] = d * blk[192 + e / 16] * level(blk, e);
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        int nb = superBlocks(count);
        for (int b = 0; b < nb; b++) {
            long o = srcOffset + (long) b * BLOCK;
            // scales and d through vector loads (scalar segment reads become calls in big compilations)
            LongVector scl = ByteVector.fromMemorySegment(B2, src, o + 192, LE).reinterpretAsLongs();
            long sc0 = scl.lane(0);
            long sc1 = scl.lane(1);
            float d = Float.float16ToFloat((short) (ByteVector.fromMemorySegment(B2, src, o + 194, LE).reinterpretAsLongs().lane(1) >>> 48));
            int y = dstOffset + b * QK_K;
            for (int h = 0; h < 2; h++) {
                long sh = h == 0 ? sc0 : sc1;
                for (int l0 = 0; l0 < 32; l0 += KQuants.QB) {
                    ByteVector ql0b = ByteVector.fromMemorySegment(VectorShapes.I8_QUARTER, src, o + 64 * h + l0, LE);
                    ByteVector ql1b = ByteVector.fromMemorySegment(VectorShapes.I8_QUARTER, src, o + 64 * h + 32 + l0, LE);
                    ByteVector qhb = ByteVector.fromMemorySegment(VectorShapes.I8_QUARTER, src, o + 128 + 32 * h + l0, LE);
                    for (int p = 0; p < KQuants.QPARTS; p++) {
                        int l = l0 + p * I32.length();
                        // sign-extended bytes: every field below is masked
                        IntVector ql0 = (IntVector) ql0b.convertShape(VectorOperators.B2I, VectorShapes.I32, p);
                        IntVector ql1 = (IntVector) ql1b.convertShape(VectorOperators.B2I, VectorShapes.I32, p);
                        IntVector qh = (IntVector) qhb.convertShape(VectorOperators.B2I, VectorShapes.I32, p);
                        int e = 128 * h + l;
                        int g = 8 * (l / 16);
                        // value e + 32k: low nibble (k < 2) or high nibble of ql[k & 1], bits 2k of qh; (d*scale) is
                        // exact, one rounding for *q as the reference
                        IntVector q0 = ql0.and(0xF).or(qh.and(3).lanewise(VectorOperators.LSHL, 4)).sub(32);
                        IntVector q1 = ql1.and(0xF).or(qh.lanewise(VectorOperators.LSHR, 2).and(3).lanewise(VectorOperators.LSHL, 4)).sub(32);
                        IntVector q2 = ql0.lanewise(VectorOperators.LSHR, 4).and(0xF).or(qh.lanewise(VectorOperators.LSHR, 4).and(3).lanewise(VectorOperators.LSHL, 4)).sub(32);
                        IntVector q3 = ql1.lanewise(VectorOperators.LSHR, 4).and(0xF).or(qh.lanewise(VectorOperators.LSHR, 6).and(3).lanewise(VectorOperators.LSHL, 4)).sub(32);
                        ((FloatVector) q0.convertShape(VectorOperators.I2F, VectorShapes.F32, 0)).mul(d * (byte) (sh >>> g)).intoArray(dst, y + e);
                        ((FloatVector) q1.convertShape(VectorOperators.I2F, VectorShapes.F32, 0)).mul(d * (byte) (sh >>> (g + 16))).intoArray(dst, y + e + 32);
                        ((FloatVector) q2.convertShape(VectorOperators.I2F, VectorShapes.F32, 0)).mul(d * (byte) (sh >>> (g + 32))).intoArray(dst, y + e + 64);
                        ((FloatVector) q3.convertShape(VectorOperators.I2F, VectorShapes.F32, 0)).mul(d * (byte) (sh >>> (g + 48))).intoArray(dst, y + e + 96);
                    }
                }
            }
        }
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int count) {
        int nb = superBlocks(count);
        byte[] L = new byte[QK_K];
        float[] scales = new float[16];
        byte[] y = new byte[BLOCK];
        CandidateSearch.Scratch scratch = new CandidateSearch.Scratch();
        for (int b = 0; b < nb; b++) {
            int x = srcOffset + b * QK_K;
            java.util.Arrays.fill(y, (byte) 0);
            float maxScale = 0;
            float maxAbsScale = 0;
            for (int ib = 0; ib < 16; ib++) {
                float scale = KQuants.makeQxQuants(16, 32, src, x + 16 * ib, L, 16 * ib, scratch);
                scales[ib] = scale;
                float abs = Math.abs(scale);
                if (abs > maxAbsScale) {
                    maxAbsScale = abs;
                    maxScale = scale;
                }
            }
            if (maxAbsScale < KQuants.GROUP_MAX_EPS) {
                MemorySegment.copy(y, 0, dst, ValueLayout.JAVA_BYTE, dstOffset + (long) b * BLOCK, BLOCK);
                continue;
            }
            float iscale = -128f / maxScale;
            KQuants.putFp16(y, 208, 1 / iscale);
            for (int ib = 0; ib < 16; ib++) {
                y[192 + ib] = (byte) Math.min(127, nearestInt(iscale * scales[ib]));
            }
            float d0 = fp16(y, 208);
            for (int j = 0; j < 16; j++) {
                float d = d0 * y[192 + j];
                if (d == 0) {
                    continue;
                }
                for (int ii = 0; ii < 16; ii++) {
                    int l = nearestInt(src[x + 16 * j + ii] / d);
                    L[16 * j + ii] = (byte) (Math.max(-32, Math.min(31, l)) + 32);
                }
            }
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l++) {
                    int e = 128 * h + l;
                    int q1 = L[e] & 0xF;
                    int q2 = L[e + 32] & 0xF;
                    int q3 = L[e + 64] & 0xF;
                    int q4 = L[e + 96] & 0xF;
                    y[64 * h + l] = (byte) (q1 | (q3 << 4));
                    y[64 * h + 32 + l] = (byte) (q2 | (q4 << 4));
                    y[128 + 32 * h + l] = (byte) ((L[e] >> 4) | ((L[e + 32] >> 4) << 2) | ((L[e + 64] >> 4) << 4)
                            | ((L[e + 96] >> 4) << 6));
                }
            }
            MemorySegment.copy(y, 0, dst, ValueLayout.JAVA_BYTE, dstOffset + (long) b * BLOCK, BLOCK);
        }
    }

    /**
     * The even/odd kernel ({@link KQuants#V256}), over a slice of the row and the even/odd
     * activations ({@link Activations#q8_KPairs} stride 1). The 32 bytes of ql at 64h + 32j hold
     * values 128h + 32j + l (low nibbles) and 128h + 32(j+2) + l (high nibbles), loaded as 16
     * shorts (lane i: bytes 2i and 2i+1, i.e. values l = 2i and 2i+1; at 512 bits j = 0 and 1 in
     * one vector), and their high bits are bits 2j, 2j+1 and 2j+4, 2j+5 of qh[32h + l] (loaded the
     * same way, at 512 bits a second copy two bits on): the even and odd 6-bit levels come out
     * with int-wide shifts and masks, 2 products per short lane (at most 2*63*127), pair sums into
     * ints, whose groups of four lanes each have one 16-value scale (picked with one permute).
     * Levels are unsigned; the -32 comes off once per super-block through the per-16 activation
     * sums: sum_g sc_g * (sum (q+32) a - 32 * bsum_g). Written out group by group, no
     * vector-valued helpers (see {@link KQuants} on C2).
     */
    private static float dotEvenOdd(MemorySegment seg, long rowOffset, Activations x, int token) {
        int nb = x.dim() / QK_K;
        short[] a = x.q8_KPairs(1);
        float[] ad = x.q8_KScale();
        int[] bsum = x.q8_KSum16();
        // the row as its own slice: offsets in it are ints of the loop, and C2 hoists their bounds checks
        MemorySegment w = seg.asSlice(rowOffset, (long) nb * BLOCK);
        FloatVector acc = FloatVector.zero(FW);
        FloatVector macc = FloatVector.zero(F2);
        for (int b = 0; b < nb; b++) {
            int o = b * BLOCK;
            int ab = token * nb + b;
            int ao = QK_K * ab;
            ByteVector scb = ByteVector.fromMemorySegment(B2, w, (long) (o + 192), LE);
            float dd = Float.float16ToFloat((short) (ByteVector.fromMemorySegment(B2, w, (long) (o + 194), LE).reinterpretAsLongs().lane(1) >>> 48)) * ad[ab];
            IntVector sLo = I2C.cast(scb.convertShape(VectorOperators.B2I, I2, 0));
            IntVector sHi = I2C.cast(scb.convertShape(VectorOperators.B2I, I2, 1));
            // the levels' +32 offset: 32 * sum_g sc_g * bsum_g
            macc = F2C.cast(I2C.cast(sLo.mul(IntVector.fromArray(I2, bsum, 16 * ab))).add(sHi.mul(IntVector.fromArray(I2, bsum, 16 * ab + 8)))
                    .convertShape(VectorOperators.I2F, F2, 0)).fma(FloatVector.broadcast(F2, 32 * dd), macc);
            IntVector isum = IntVector.zero(IW);
            for (int h = 0; h < 2; h++) {
                // this half's eight scales in int lanes 0..7
                IntVector scales = IWC.cast(ByteVector.fromMemorySegment(B8, w, (long) (o + 192 + 8 * h), LE)
                        .convertShape(VectorOperators.B2I, IW, 0));
                IntVector qh = IWC.cast(ByteVector.fromMemorySegment(B32, w, (long) (o + 128 + 32 * h), LE).reinterpretShape(IW, 0));
                if (KW == 2) {
                    qh = qh.rearrange(KQuants.DUP_LOW);
                    qh = qh.blend(qh.lanewise(VectorOperators.LSHR, 2), KQuants.SECOND_CHUNK);
                }
                for (int j = 0; j < 2; j += KW) {
                    // (the casts here and below: see KQuants.IWC; qh and isum are carried by the loops)
                    qh = IWC.cast(qh);
                    IntVector ql = IWC.cast(ByteVector.fromMemorySegment(BW, w, (long) (o + 64 * h + 32 * j), LE).reinterpretAsInts());
                    int e = ao + 128 * h + 32 * j;
                    // low nibbles; qh bits 0-1 (even byte) and 8-9 (odd byte) to bits 4-5
                    IntVector pLow = IWC.cast(SWC.cast(SWC.cast(ql.and(0x000F000F).or(qh.lanewise(VectorOperators.LSHL, 4).and(0x00300030))
                                    .reinterpretAsShorts()).mul(ShortVector.fromArray(SW, a, e)))
                            .add(SWC.cast(ql.lanewise(VectorOperators.LSHR, 8).and(0x000F000F).or(qh.lanewise(VectorOperators.LSHR, 4).and(0x00300030))
                                    .reinterpretAsShorts()).mul(ShortVector.fromArray(SW, a, e + 16 * KW))).reinterpretAsInts());
                    // high nibbles; qh bits 4-5 and 12-13
                    IntVector pHigh = IWC.cast(SWC.cast(SWC.cast(ql.lanewise(VectorOperators.LSHR, 4).and(0x000F000F).or(qh.and(0x00300030))
                                    .reinterpretAsShorts()).mul(ShortVector.fromArray(SW, a, e + 64)))
                            .add(SWC.cast(ql.lanewise(VectorOperators.LSHR, 12).and(0x000F000F).or(qh.lanewise(VectorOperators.LSHR, 8).and(0x00300030))
                                    .reinterpretAsShorts()).mul(ShortVector.fromArray(SW, a, e + 64 + 16 * KW))).reinterpretAsInts());
                    // pair sums ((x + (x << 16)) >> 16); int lane i holds values 4i..4i+3 of its chunk: scale group 2j + i/4 of the half, 4 more for the high nibbles
                    isum = IWC.cast(IWC.cast(isum).add(IWC.cast(pLow.add(pLow.lanewise(VectorOperators.LSHL, 16)))
                                    .lanewise(VectorOperators.ASHR, 16).mul(KQuants.QUAD.add(2 * j).selectFrom(scales))))
                            .add(IWC.cast(pHigh.add(pHigh.lanewise(VectorOperators.LSHL, 16))).lanewise(VectorOperators.ASHR, 16)
                                    .mul(KQuants.QUAD.add(2 * j + 4).selectFrom(scales)));
                    qh = qh.lanewise(VectorOperators.LSHR, 2);
                }
            }
            acc = FWC.cast(IWC.cast(isum).convertShape(VectorOperators.I2F, FW, 0)).fma(FloatVector.broadcast(FW, dd), acc);
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
        FloatVector acc = FloatVector.zero(F16W);
        for (int b = 0; b < nb; b++) {
            long o = rowOffset + (long) b * BLOCK;
            int ao = (token * nb + b) * QK_K;
            IntVector isum = IntVector.zero(I16W);
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l += S16.length()) {
                    ShortVector qh = loadS16(w, o + 128 + 32 * h + l);
                    for (int m = 0; m < 2; m++) {
                        // values k = m (low nibbles, high bits 2m) and k = m + 2 (high nibbles, bits 2m + 4)
                        ShortVector ql = loadS16(w, o + 64 * h + 32 * m + l);
                        ShortVector hs = qh.lanewise(VectorOperators.LSHR, 2 * m);
                        ShortVector q0 = ql.and((short) 0xF).or(hs.lanewise(VectorOperators.LSHL, 4).and((short) 0x30)).sub((short) 32);
                        ShortVector q1 = ql.lanewise(VectorOperators.LSHR, 4).and((short) 0xF).or(hs.and((short) 0x30)).sub((short) 32);
                        int e0 = 128 * h + 32 * m + l;
                        // per lane one product of 32*127 (two at 128 bits), pairs summed: < 2^15
                        isum = isum.add(pairSum(q0.mul(loadS16(a, ao + e0))).mul(w.get(ValueLayout.JAVA_BYTE, o + 192 + e0 / 16)))
                                .add(pairSum(q1.mul(loadS16(a, ao + e0 + 64))).mul(w.get(ValueLayout.JAVA_BYTE, o + 192 + e0 / 16 + 4)));
                    }
                }
            }
            FloatVector fs = (FloatVector) isum.convertShape(VectorOperators.I2F, KQuants.F16W, 0);
            acc = fs.fma(FloatVector.broadcast(F16W, fp16(w, o + 208) * ad[token * nb + b]), acc);
        }
        return FloatLanes.sum(acc);
    }
}
