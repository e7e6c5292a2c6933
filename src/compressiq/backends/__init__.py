"""Backends: transformers, llama.cpp, an OpenAI-compatible server, classical compressors, the test double."""
