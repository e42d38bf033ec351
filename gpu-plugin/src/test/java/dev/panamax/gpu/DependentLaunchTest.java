package dev.panamax.gpu;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The kernels launched as programmatic dependents are the ones whose CUDA source waits for the
 * predecessor before anything else (a dependent without the wait could read a half-written input).
 */
class DependentLaunchTest {
    static final Path CUDA = Path.of("src/main/cuda");

    @Test
    void everyDependentKernelWaitsFirst() throws IOException {
        String ops = Files.readString(CUDA.resolve("ops.cuh"));
        Matcher m = Pattern.compile("KERNEL_LB\\((\\w+), \\d+, \\(").matcher(ops);
        int dependents = 0;
        while (m.find()) {
            String name = m.group(1);
            int body = ops.indexOf('{', ops.indexOf(")) {", m.end()));
            String head = ops.substring(body, Math.min(ops.length(), body + 200));
            boolean waits = head.contains("allow_dependent_launch();") && head.contains("grid_dependency_wait();");
            if (DependentLaunch.waitsForPredecessor(name)) {
                dependents++;
                int firstStatement = head.indexOf(';');
                assertTrue(waits && head.substring(0, firstStatement + 1).contains("allow_dependent_launch();"),
                        name + " is launched as a dependent but does not start with the wait");
            } else {
                assertFalse(waits, name + " waits for its predecessor but is not launched as a dependent (add it)");
            }
        }
        assertTrue(dependents >= 5, "rmsnorm_split, swiglu, qkv_post, attention_gqa, attention_gqa_q8");
        // every matrix-vector kernel goes through one of these bodies, and each begins with the prologue
        String matvec = Files.readString(CUDA.resolve("matvec.cuh"));
        for (String body : new String[] {"matvec_strided(", "matvec_q(", "matvec_f("}) {
            int at = matvec.indexOf("DEV void " + body);
            assertTrue(at >= 0, body);
            int next = matvec.indexOf("DEV void matvec_", at + 10);
            String text = matvec.substring(at, next < 0 ? matvec.length() : next);
            assertTrue(text.contains("matvec_prologue("), body + " has no matvec_prologue");
        }
        assertTrue(DependentLaunch.waitsForPredecessor("matvec_q3_k_1"));
        assertFalse(DependentLaunch.waitsForPredecessor("matmul_q4_k_128"));
    }
}
