package dev.panamax.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The committed PTX and cubin are what the CUDA sources compile to: where nvcc is installed (with
 * the release named in the committed PTX's header), build-ptx.sh recompiles into a scratch folder
 * and the bytes must match. Elsewhere the test is skipped.
 */
class PtxFreshnessTest {

    @Test
    void packagedKernelsArePresent() {
        assertNotNull(JcudaGpu.resource(JcudaGpu.PTX), "PTX resource");
        assertNotNull(JcudaGpu.resource(JcudaGpu.CUBIN_SM90), "sm_90 cubin resource");
    }

    @Test
    void committedPtxMatchesTheSources(@TempDir Path tmp) throws IOException, InterruptedException {
        Path module = Path.of("").toAbsolutePath();
        Path script = module.resolve("build-ptx.sh");
        String nvccVersion = run(tmp, "bash", "-c", "n=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)};"
                + " [ -x \"$n\" ] || exit 3; \"$n\" --version");
        assumeTrue(nvccVersion != null, "nvcc is not installed: the committed PTX is used as is");
        byte[] committed = JcudaGpu.resource(JcudaGpu.PTX);
        String header = new String(committed, 0, Math.min(committed.length, 400), StandardCharsets.UTF_8);
        String release = header.lines().filter(l -> l.contains("Cuda compilation tools")).findFirst().orElse("?")
                .replace("//", "").strip();
        assumeTrue(nvccVersion.contains(release.substring(release.indexOf("release"))),
                "installed nvcc (" + nvccVersion.lines().reduce((a, b) -> b).orElse("") + ") differs from the one that made"
                        + " the committed PTX (" + release + ")");
        assertNotNull(run(tmp, "bash", script.toString(), "--force", "--out", tmp.toString()), "build-ptx.sh failed");
        assertEquals(new String(committed, StandardCharsets.UTF_8), new String(gunzip(tmp.resolve("panamax.ptx.gz")),
                StandardCharsets.UTF_8), "src/main/resources/dev/panamax/gpu/panamax.ptx.gz is stale: run"
                        + " gpu-plugin/build-ptx.sh and commit");
        assertArrayEquals(JcudaGpu.resource(JcudaGpu.CUBIN_SM90), gunzip(tmp.resolve("panamax.sm_90.cubin.gz")),
                "panamax.sm_90.cubin.gz is stale: run gpu-plugin/build-ptx.sh and commit");
    }

    private static byte[] gunzip(Path p) throws IOException {
        try (java.io.InputStream in = new java.util.zip.GZIPInputStream(Files.newInputStream(p))) {
            return in.readAllBytes();
        }
    }

    /** Output of a command, or null when it fails. */
    private static String run(Path dir, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
            System.err.println(String.join(" ", cmd) + ":\n" + out);
            return null;
        }
        return out;
    }
}
