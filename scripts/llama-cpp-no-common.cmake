# Read by CMake right after llama.cpp's own project() call when llama-cpp-python is built with
# -DCMAKE_PROJECT_llama.cpp_INCLUDE=<this file> (scripts/install-upstream-peers.sh does).
# llama-cpp-python's CMakeLists forces LLAMA_BUILD_COMMON ON, but its Python bindings load only
# libllama and libggml*: llama.cpp's `common` library (and the cpp-httplib it pulls in) is about half of
# the compile and never used. This turns it back off before llama.cpp's CMakeLists reads the option.
set(LLAMA_BUILD_COMMON OFF CACHE BOOL "llama.cpp: build common utils library" FORCE)
