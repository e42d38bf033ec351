package dev.panamax.kernels;

import static dev.panamax.kernels.KQuants.IWC;
import static dev.panamax.kernels.KQuants.SWC;
import static dev.panamax.kernels.KQuants.FWC;
import static dev.panamax.kernels.KQuants.I2C;
import static dev.panamax.kernels.KQuants.F2C;
import static dev.panamax.kernels.KQuants.B2;
import static dev.panamax.kernels.KQuants.F16W;
import static dev.panamax.kernels.KQuants.F2;
import static dev.panamax.kernels.KQuants.I16W;
import static dev.panamax.kernels.KQuants.I2;
import static dev.panamax.kernels.KQuants.INT_LE;
import static dev.panamax.kernels.KQuants.L2;
import static dev.panamax.kernels.KQuants.LE;
import static dev.panamax.kernels.KQuants.LONG_LE;
import static dev.panamax.kernels.KQuants.QK_K;
import static dev.panamax.kernels.KQuants.B32;
import static dev.panamax.kernels.KQuants.FW;
import static dev.panamax.kernels.KQuants.BW;
import static dev.panamax.kernels.KQuants.SW;
import static dev.panamax.kernels.KQuants.KW;
import static dev.panamax.kernels.KQuants.IW;
import static dev.panamax.kernels.KQuants.S16;
import static dev.panamax.kernels.KQuants.fp16;
import static dev.panamax.kernels.KQuants.loadS16;
import static dev.panamax.kernels.KQuants.nearestInt;
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
 * Q3_K: super-blocks of 256 values in 110 bytes: hmask[32], qs[64] (2-bit), 12 bytes of 6-bit
 * signed scales (one per 16 values), fp16 d. Value e = 128h + 32j + l: q = ((qs[32h+l] &gt;&gt; 2j) &amp; 3),
 * minus 4 when bit 4h+j of hmask[l] is clear; x = d*(scale[e/16]-32)*q.
 */
final class Q3KFormat implements QuantFormat {
    static final int BLOCK = 110;

    @Override
    public GgmlType type() {
        return GgmlType.Q3_K;
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
            float d = fp16(blk, 108);
            for (int e = 0; e < QK_K; e++) {
                int h = e / 128;
                int j = (e % 128) / 32;
                int l = e % 32;
                int q = ((blk[32 + 32 * h + l] & 0xFF) >> (2 * j)) & 3;
                if ((blk[l] & (1 << (4 * h + j))) == 0) {
                    q -= 4;
                }
                float dl = d * KQuants.scaleQ3(blk, 96, e / 16);
                dst[dstOffset + b * QK_K + e] = dl * q;
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        int nb = superBlocks(count);
        for (int b = 0; b < nb; b++) {
            long o = srcOffset + (long) b * BLOCK;
            // bytes 94..109 (scales at 96, d at 108) through one vector load (scalar segment reads become calls in big compilations)
            LongVector hdr = ByteVector.fromMemorySegment(KQuants.B2, src, o + 94, LE).reinterpretAsLongs();
            long hd0 = hdr.lane(0);
            long hd1 = hdr.lane(1);
            float d = Float.float16ToFloat((short) (hd1 >>> 48));
            long s8 = (hd0 >>> 16) | (hd1 << 48);
            int s4 = (int) (hd1 >>> 16);
            long scLo = KQuants.unpackScalesQ3Lo(s8, s4);
            long scHi = KQuants.unpackScalesQ3Hi(s8, s4);
            int y = dstOffset + b * QK_K;
            for (int h = 0; h < 2; h++) {
                for (int l0 = 0; l0 < 32; l0 += KQuants.QB) {
                    ByteVector qsb = ByteVector.fromMemorySegment(VectorShapes.I8_QUARTER, src, o + 32 + 32 * h + l0, LE);
                    ByteVector hmb = ByteVector.fromMemorySegment(VectorShapes.I8_QUARTER, src, o + l0, LE);
                    for (int p = 0; p < KQuants.QPARTS; p++) {
                        int l = l0 + p * I32.length();
                        IntVector qs = (IntVector) qsb.convertShape(VectorOperators.B2I, VectorShapes.I32, p);
                        IntVector hm = (IntVector) hmb.convertShape(VectorOperators.B2I, VectorShapes.I32, p);
                        for (int j = 0; j < 4; j++) {
                            int e = 128 * h + 32 * j + l;
                            int g = e / 16;
                            int sc = (int) (((g < 8 ? scLo : scHi) >>> (8 * (g & 7))) & 0xFF) - 32;
                            IntVector q = qs.lanewise(VectorOperators.LSHR, 2 * j).and(3)
                                    .or(hm.lanewise(VectorOperators.LSHR, 4 * h + j).and(1).lanewise(VectorOperators.LSHL, 2))
                                    .sub(4);
                            // d*sc*q is exact in float (11 + 6 + 3 bits)
                            ((FloatVector) q.convertShape(VectorOperators.I2F, VectorShapes.F32, 0)).mul(d * sc).intoArray(dst, y + e);
                        }
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
        for (int b = 0; b < nb; b++) {
            int x = srcOffset + b * QK_K;
            java.util.Arrays.fill(y, (byte) 0);
            float maxScale = 0;
            float amax = 0;
            for (int j = 0; j < 16; j++) {
                scales[j] = KQuants.makeQ3Quants(16, 4, src, x + 16 * j, L, 16 * j);
                float scale = Math.abs(scales[j]);
                if (scale > amax) {
                    amax = scale;
                    maxScale = scales[j];
                }
            }
            if (maxScale != 0) {
                float iscale = -32f / maxScale;
                for (int j = 0; j < 16; j++) {
                    int l = (byte) nearestInt(iscale * scales[j]);
                    l = Math.max(-32, Math.min(31, l)) + 32;
                    if (j < 8) {
                        y[96 + j] = (byte) (l & 0xF);
                    } else {
                        y[96 + j - 8] |= (byte) ((l & 0xF) << 4);
                    }
                    l >>= 4;
                    y[96 + 8 + j % 4] |= (byte) (l << (2 * (j / 4)));
                }
                KQuants.putFp16(y, 108, 1 / iscale);
            }
            float d0 = fp16(y, 108);
            for (int j = 0; j < 16; j++) {
                float d = d0 * KQuants.scaleQ3(y, 96, j);
                if (d == 0) {
                    continue;
                }
                for (int ii = 0; ii < 16; ii++) {
                    int l = nearestInt(src[x + 16 * j + ii] / d);
                    L[16 * j + ii] = (byte) (Math.max(-4, Math.min(3, l)) + 4);
                }
            }
            // high bit of the first 32 values into bit 0 of hmask[0..32), the next 32 into bit 1, ...
            for (int j = 0; j < QK_K; j++) {
                if (L[j] > 3) {
                    y[j % 32] |= (byte) (1 << (j / 32));
                    L[j] -= 4;
                }
            }
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l++) {
                    int e = 128 * h + l;
                    y[32 + 32 * h + l] = (byte) (L[e] | (L[e + 32] << 2) | (L[e + 64] << 4) | (L[e + 96] << 6));
                }
            }
            MemorySegment.copy(y, 0, dst, ValueLayout.JAVA_BYTE, dstOffset + (long) b * BLOCK, BLOCK);
        }
    }

    /**
     * Levels (-4..3) for 2-bit shift j and hmask bit {@code bit}, from widened qs bytes and the
     * widened hmask bytes shifted left by 2 (so bit b lands on value 4 after a right shift by b).
     */
    private static ShortVector level(ShortVector qs, ShortVector hm4, int j, int bit) {
        ShortVector hb = hm4.lanewise(VectorOperators.LSHR, bit).and((short) 4);
        return qs.lanewise(VectorOperators.LSHR, 2 * j).and((short) 3).or(hb).sub((short) 4);
    }

    /**
     * The even/odd kernel ({@link KQuants#V256}), over a slice of the row and the even/odd
     * activations ({@link Activations#q8_KPairs} stride 4). The 32 bytes of qs[32h..] (both h in
     * one vector at 512 bits) and of hmask are loaded as 16 shorts (lane i: bytes 2i and 2i+1, i.e.
     * values l = 2i and 2i+1), and for each k int-wide shifts and masks give the even and odd
     * levels of sub-block 4h + k, taken unsigned (q + 4, 0..7; the offset comes off through the
     * per-16 activation sums): 2 products per short lane, pair sums into ints, whose groups of four
     * lanes each have one 16-value scale (8h + 2k, 8h + 2k + 1; picked with one permute).
     */
    private static float dotEvenOdd(MemorySegment seg, long rowOffset, Activations x, int token) {
        int nb = x.dim() / QK_K;
        short[] a = x.q8_KPairs(4);
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
            // bytes 94..109: the scales at 96, d at 108
            LongVector hdr = ByteVector.fromMemorySegment(B2, w, (long) (o + 94), LE).reinterpretAsLongs();
            long hd0 = hdr.lane(0);
            long hd1 = hdr.lane(1);
            long s8 = (hd0 >>> 16) | (hd1 << 48);
            int s4 = (int) (hd1 >>> 16);
            long scLo = KQuants.unpackScalesQ3Lo(s8, s4);
            long scHi = KQuants.unpackScalesQ3Hi(s8, s4);
            float dd = Float.float16ToFloat((short) (hd1 >>> 48)) * ad[ab];
            IntVector lo = I2C.cast(LongVector.broadcast(L2, scLo).reinterpretAsBytes().convertShape(VectorOperators.B2I, I2, 0)).sub(32);
            IntVector hi = I2C.cast(LongVector.broadcast(L2, scHi).reinterpretAsBytes().convertShape(VectorOperators.B2I, I2, 0)).sub(32);
            // the levels' +4 offset: 4 * sum_g sc_g * bsum_g
            macc = F2C.cast(I2C.cast(lo.mul(IntVector.fromArray(I2, bsum, 16 * ab))).add(hi.mul(IntVector.fromArray(I2, bsum, 16 * ab + 8)))
                    .convertShape(VectorOperators.I2F, F2, 0)).fma(FloatVector.broadcast(F2, 4 * dd), macc);
            // high bit of value 128h + 32k + l: bit 4h + k of hmask[l] (at 512 bits, h = 1's copy four bits on)
            IntVector hm = IWC.cast(ByteVector.fromMemorySegment(B32, w, (long) o, LE).reinterpretShape(IW, 0));
            if (KW == 2) {
                hm = hm.rearrange(KQuants.DUP_LOW);
                hm = hm.blend(hm.lanewise(VectorOperators.LSHR, 4), KQuants.SECOND_CHUNK);
            }
            IntVector isum = IntVector.zero(IW);
            for (int h = 0; h < 2; h += KW) {
                // scales 8h .. 8h + 7 in int lanes 0..7 (at 512 bits all sixteen)
                // (the casts here and below: see KQuants.IWC; hm, qs, hb and isum are carried by the loops)
                hm = IWC.cast(hm);
                IntVector scales = IWC.cast(LongVector.broadcast(L2, h == 0 ? scLo : scHi).withLane(1, scHi).reinterpretAsBytes()
                        .convertShape(VectorOperators.B2I, IW, 0)).sub(32);
                IntVector qs = IWC.cast(ByteVector.fromMemorySegment(BW, w, (long) (o + 32 + 32 * h), LE).reinterpretAsInts());
                // this half's hmask bits (4h + k of each byte) moved up by 2, so that bit k of the
                // field loop lands on bit 2: the level's high bit (bits that cross into the next
                // short never reach the masked bits within the four steps)
                IntVector hb = IWC.cast(hm.lanewise(VectorOperators.LSHR, 4 * h).lanewise(VectorOperators.LSHL, 2));
                // a loop with the bit fields shifted into place as it goes (qs by 2, hb by 1 per k):
                // unrolled by hand, the four bodies' live vectors spill. The shifts are on int lanes:
                // C2 gives short-lane shifts by a constant a count register (two more instructions each)
                for (int k = 0; k < 4; k++) {
                    int e = ao + 128 * h + 32 * KW * k;
                    qs = IWC.cast(qs);
                    hb = IWC.cast(hb);
                    // levels + 4 (0..7) of the even byte in bits 0-2 and of the odd byte in bits 8-10 of each short
                    IntVector lv = qs.and(0x03030303).or(hb.and(0x04040404));
                    ShortVector even = SWC.cast(lv.and(0x00FF00FF).reinterpretAsShorts());
                    ShortVector odd = SWC.cast(IWC.cast(lv.lanewise(VectorOperators.LSHR, 8)).and(0x00FF00FF).reinterpretAsShorts());
                    IntVector p = IWC.cast(SWC.cast(even.mul(ShortVector.fromArray(SW, a, e)))
                            .add(odd.mul(ShortVector.fromArray(SW, a, e + 16 * KW))).reinterpretAsInts());
                    // pair sums ((x + (x << 16)) >> 16), times the scales of groups 2k (lanes 0-3 of a chunk) and 2k + 1 (lanes 4-7)
                    isum = IWC.cast(isum).add(IWC.cast(p.add(p.lanewise(VectorOperators.LSHL, 16))).lanewise(VectorOperators.ASHR, 16)
                            .mul(KQuants.QUAD_H.add(2 * k).selectFrom(scales)));
                    qs = qs.lanewise(VectorOperators.LSHR, 2);
                    hb = hb.lanewise(VectorOperators.LSHR, 1);
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
            long s8 = w.get(LONG_LE, o + 96);
            int s4 = w.get(INT_LE, o + 104);
            IntVector isum = IntVector.zero(I16W);
            for (int h = 0; h < 2; h++) {
                long sw = h == 0 ? KQuants.unpackScalesQ3Lo(s8, s4) : KQuants.unpackScalesQ3Hi(s8, s4);
                for (int l = 0; l < 32; l += S16.length()) {
                    ShortVector qs = loadS16(w, o + 32 + 32 * h + l);
                    ShortVector hm = loadS16(w, o + l).lanewise(VectorOperators.LSHL, 2);
                    for (int j = 0; j < 4; j += 2) {
                        // the scale folded into the level: |q*sc| <= 4*32, |q*sc*a| <= 16256, two per lane
                        short sc0 = (short) (((sw >>> (8 * (2 * j + l / 16))) & 0xFF) - 32);
                        short sc1 = (short) (((sw >>> (8 * (2 * j + 2 + l / 16))) & 0xFF) - 32);
                        ShortVector p = level(qs, hm, j, 4 * h + j).mul(sc0).mul(loadS16(a, ao + 128 * h + 32 * j + l))
                                .add(level(qs, hm, j + 1, 4 * h + j + 1).mul(sc1).mul(loadS16(a, ao + 128 * h + 32 * j + 32 + l)));
                        isum = isum.add(KQuants.widenSum(p));
                    }
                }
            }
            FloatVector fs = (FloatVector) isum.convertShape(VectorOperators.I2F, KQuants.F16W, 0);
            acc = fs.fma(FloatVector.broadcast(F16W, fp16(w, o + 108) * ad[token * nb + b]), acc);
        }
        return FloatLanes.sum(acc);
    }
}
