/*
 * A minimal hsdis for HotSpot's -XX:+PrintAssembly: instead of disassembling, it prints each code
 * range as "HSDIS <start address> <length>" and the bytes in hex; disasm.py turns those into
 * objdump's disassembly. (The real hsdis needs binutils or capstone headers, which the
 * development machines lack; objdump is there.) Build: see README.md.
 */
#include <stddef.h>
#include <stdint.h>

void* decode_instructions_virtual(uintptr_t start_va, uintptr_t end_va, unsigned char* buffer, uintptr_t length,
                                  void* (*event_callback)(void*, const char*, void*), void* event_stream,
                                  int (*printf_callback)(void*, const char*, ...), void* printf_stream,
                                  const char* options, int newline) {
    (void) event_callback;
    (void) event_stream;
    (void) options;
    (void) newline;
    printf_callback(printf_stream, "\nHSDIS %lx %lu\n", (unsigned long) start_va, (unsigned long) length);
    for (uintptr_t i = 0; i < length; i++) {
        printf_callback(printf_stream, "%02x", buffer[i]);
        if ((i & 63) == 63) {
            printf_callback(printf_stream, "\n");
        }
    }
    printf_callback(printf_stream, "\nHSDIS_END\n");
    return (void*) end_va;
}
