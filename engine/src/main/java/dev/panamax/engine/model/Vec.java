package dev.panamax.engine.model;

import java.lang.foreign.MemorySegment;

/** A 1-D weight (norm or bias) as little-endian F32 values in a segment (mapped, or converted off-heap). */
public record Vec(MemorySegment data, int size) {}
