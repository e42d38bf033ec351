package dev.panamax.gpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The plugin builds against JCuda's driver API (no native library is loaded here). */
class JcudaOnClasspathTest {
    @Test
    void driverApiClassesArePresent() throws Exception {
        Class<?> driver = Class.forName("jcuda.driver.JCudaDriver", false, getClass().getClassLoader());
        assertTrue(driver.getMethod("cuInit", int.class) != null);
    }
}
