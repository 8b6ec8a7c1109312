// Builds the precompiled catch.hpp the test suites reuse (tests/CMakeLists.txt).
