// Runs a libFuzzer entry point over files named on the command line (a seed corpus), so fuzz
// targets build and replay their corpus with any compiler. With clang, build with
// EE_FUZZ_ENGINE=libfuzzer to get the coverage-guided fuzzer instead of this driver.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size);

int main(int argc, char** argv) {
  int inputs = 0;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", argv[i]);
      return 2;
    }
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<std::uint8_t const*>(bytes.data()), bytes.size());
    // Also every prefix: truncation is the commonest malformation of binary input.
    for (std::size_t n = 0; n < bytes.size(); n += 1 + bytes.size() / 512)
      LLVMFuzzerTestOneInput(reinterpret_cast<std::uint8_t const*>(bytes.data()), n);
    ++inputs;
  }
  std::printf("replayed %d inputs\n", inputs);
  return inputs > 0 ? 0 : 2;
}
