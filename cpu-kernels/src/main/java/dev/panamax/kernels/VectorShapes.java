package dev.panamax.kernels;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector width every kernel is written against, chosen once at start-up: the machine's
 * preferred shape, or {@code -Dpanamax.vector.bits=128|256|512} (tests run the kernels at every
 * width this way). Static finals, so the JIT sees constants.
 */
public final class VectorShapes {
    private VectorShapes() {}

    public static final VectorShape SHAPE = chooseShape();
    public static final VectorSpecies<Float> F32 = FloatVector.SPECIES_PREFERRED.withShape(SHAPE);
    public static final VectorSpecies<Integer> I32 = IntVector.SPECIES_PREFERRED.withShape(SHAPE);
    public static final VectorSpecies<Short> I16 = ShortVector.SPECIES_PREFERRED.withShape(SHAPE);
    public static final VectorSpecies<Byte> I8 = ByteVector.SPECIES_PREFERRED.withShape(SHAPE);
    /** Bytes that widen into one full I16 vector (half an I8 vector). */
    public static final VectorSpecies<Byte> I8_HALF = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, SHAPE.vectorBitSize() / 2)));
    /** Bytes that widen into one full F32/I32 vector (a quarter of an I8 vector). */
    public static final VectorSpecies<Byte> I8_QUARTER = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, SHAPE.vectorBitSize() / 4)));

    private static VectorShape chooseShape() {
        String bits = System.getProperty("panamax.vector.bits");
        if (bits == null || bits.isBlank()) {
            return VectorShape.preferredShape();
        }
        int b = Integer.parseInt(bits.strip());
        int max = VectorShape.preferredShape().vectorBitSize();
        if (b != 128 && b != 256 && b != 512 || b > max) {
            throw new IllegalArgumentException("panamax.vector.bits must be 128, 256 or 512 and at most " + max + ": " + bits);
        }
        return VectorShape.forBitSize(b);
    }

    public static String describe() {
        return SHAPE.vectorBitSize() + "-bit vectors (" + F32.length() + " floats)";
    }
}
