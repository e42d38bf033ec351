package dev.panamax.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panamax.gguf.GgmlType;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** GgmlType's "computable" column and the kernel registry say the same thing. */
class KernelsRegistryTest {
    @Test
    void registryMatchesTheTypeTable() {
        Set<GgmlType> computable = Arrays.stream(GgmlType.values()).filter(GgmlType::computable).collect(Collectors.toSet());
        assertEquals(computable, Kernels.all().keySet());
        Kernels.all().forEach((t, f) -> assertEquals(t, f.type()));
    }
}
