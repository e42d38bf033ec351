package dev.panamax.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/** Physical core count (hyper-threads share a core's memory bandwidth and vector units). */
final class Cpus {
    private Cpus() {}

    static int physicalCores() {
        int logical = Runtime.getRuntime().availableProcessors();
        Set<String> cores = new HashSet<>();
        for (int cpu = 0; cpu < 1024; cpu++) {
            Path topo = Path.of("/sys/devices/system/cpu/cpu" + cpu + "/topology");
            if (!Files.isDirectory(topo)) {
                break;
            }
            try {
                cores.add(Files.readString(topo.resolve("physical_package_id")).strip() + ":"
                        + Files.readString(topo.resolve("core_id")).strip());
            } catch (IOException e) {
                return logical;
            }
        }
        return cores.isEmpty() ? logical : Math.max(1, Math.min(logical, cores.size()));
    }
}
