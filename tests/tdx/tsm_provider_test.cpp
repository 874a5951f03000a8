// The configfs-tsm provider against a directory the test controls. An ordinary directory cannot
// behave like configfs (mkdir there creates no attribute files and writing `inblob` produces no
// `outblob`), so FakeTsmKernel plays the kernel's part on top of the real file operations; the
// tests without it run the production filesystem code.
#include <easyenclave/tdx/provider.hpp>

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using ee::tdx::errc;
using Bytes = std::vector<std::uint8_t>;

Bytes const kQuotePrefix{'Q', 'U', 'O', 'T', 'E', ':'};

void write_text(fs::path const& path, std::string const& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// What the kernel does for a report entry (Documentation/ABI/testing/configfs-tsm): mkdir creates
// the attribute files with generation 0; each inblob write bumps generation and (here, at once)
// yields an outblob, which this fake makes "QUOTE:" || inblob so a test can tell whose report
// data a quote carries; rmdir removes the entry with its files.
class FakeTsmKernel final : public ee::tdx::TsmFilesystem {
 public:
  // Knobs.
  std::string provider = "tdx_guest";
  bool empty_outblob = false;
  int racing_writes = 0;  // attempts during which "another process" also writes the entry

  // Observations.
  std::vector<Bytes> inblobs;
  std::vector<fs::path> created;
  std::vector<fs::path> removed;
  int max_live_entries = 0;

  bool is_directory(fs::path const& path) const override { return real_->is_directory(path); }

  ee::error_code make_directory(fs::path const& path) override {
    if (auto ec = real_->make_directory(path)) return ec;
    std::lock_guard lock(mutex_);
    created.push_back(path);
    max_live_entries = std::max(max_live_entries, ++live_entries_);
    generation_[path] = 0;
    write_text(path / "generation", "0\n");
    write_text(path / "provider", provider + "\n");
    write_text(path / "inblob", "");
    write_text(path / "outblob", "");
    return {};
  }

  ee::error_code remove_directory(fs::path const& path) override {
    std::lock_guard lock(mutex_);
    removed.push_back(path);
    --live_entries_;
    std::error_code ec;
    fs::remove_all(path, ec);
    return {};
  }

  ee::error_code write_file(fs::path const& path, std::span<std::uint8_t const> data) override {
    if (auto ec = real_->write_file(path, data)) return ec;
    if (path.filename() != "inblob") return {};
    std::lock_guard lock(mutex_);
    auto const entry = path.parent_path();
    inblobs.emplace_back(data.begin(), data.end());
    auto& generation = generation_[entry];
    ++generation;
    if (racing_writes > 0) {
      --racing_writes;
      ++generation;
    }
    write_text(entry / "generation", std::to_string(generation) + "\n");
    std::string out;
    if (!empty_outblob) {
      out.assign(kQuotePrefix.begin(), kQuotePrefix.end());
      out.append(data.begin(), data.end());
    }
    write_text(entry / "outblob", out);
    return {};
  }

  ee::error_code read_file(fs::path const& path, std::size_t max_bytes, Bytes& out) override {
    return real_->read_file(path, max_bytes, out);
  }

 private:
  std::shared_ptr<ee::tdx::TsmFilesystem> real_ = ee::tdx::real_tsm_filesystem();
  std::mutex mutex_;
  std::map<fs::path, std::uint64_t> generation_;
  int live_entries_ = 0;
};

ee::tdx::ReportData report_data(std::uint8_t seed) {
  ee::tdx::ReportData data{};
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(seed + i);
  return data;
}

Bytes expected_quote(ee::tdx::ReportData const& data) {
  Bytes out = kQuotePrefix;
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

bool is_empty_dir(fs::path const& dir) { return fs::is_empty(dir); }

class TsmProviderTest : public ::testing::Test {
 protected:
  std::unique_ptr<ee::tdx::QuoteProvider> make(ee::tdx::TsmOptions options = {}) {
    options.root = dir_.path();
    options.filesystem = kernel_;
    auto provider = ee::tdx::make_tsm_provider(std::move(options));
    EXPECT_TRUE(provider.has_value()) << provider.error().message();
    return provider ? std::move(*provider) : nullptr;
  }

  ee::test::TempDir dir_;
  std::shared_ptr<FakeTsmKernel> kernel_ = std::make_shared<FakeTsmKernel>();
};

TEST_F(TsmProviderTest, ReturnsOutblobForExactlyTheReportData) {
  auto provider = make();
  ASSERT_TRUE(provider);
  EXPECT_EQ(provider->name(), "tsm");
  auto const data = report_data(7);
  auto const quote = provider->get_quote(data);
  ASSERT_TRUE(quote) << quote.error().message();
  EXPECT_EQ(*quote, expected_quote(data));
  ASSERT_EQ(kernel_->inblobs.size(), 1u);
  EXPECT_EQ(kernel_->inblobs[0], Bytes(data.begin(), data.end()));  // all 64 bytes, nothing more
}

TEST_F(TsmProviderTest, CreatesAUniqueEntryAndRemovesItAfterwards) {
  auto provider = make();
  ASSERT_TRUE(provider);
  ASSERT_TRUE(provider->get_quote(report_data(1)));
  ASSERT_TRUE(provider->get_quote(report_data(2)));
  ASSERT_EQ(kernel_->created.size(), 2u);
  EXPECT_NE(kernel_->created[0], kernel_->created[1]);
  EXPECT_EQ(kernel_->created[0].parent_path(), dir_.path());
  EXPECT_EQ(kernel_->created[0].filename().string().rfind("ee-", 0), 0u);
  EXPECT_EQ(kernel_->removed, kernel_->created);
  EXPECT_TRUE(is_empty_dir(dir_.path()));
}

TEST_F(TsmProviderTest, EmptyOutblobIsAnErrorAndTheEntryIsStillRemoved) {
  kernel_->empty_outblob = true;
  auto provider = make();
  ASSERT_TRUE(provider);
  auto const quote = provider->get_quote(report_data(3));
  ASSERT_FALSE(quote);
  EXPECT_EQ(quote.error(), errc::tsm_failed);
  EXPECT_EQ(quote.error(), ee::condition::upstream_failure);
  EXPECT_NE(quote.error().message().find("empty quote"), std::string::npos)
      << quote.error().message();
  EXPECT_EQ(kernel_->removed, kernel_->created);
  EXPECT_TRUE(is_empty_dir(dir_.path()));
}

TEST_F(TsmProviderTest, RetriesWhenTheGenerationShowsAnotherWriter) {
  kernel_->racing_writes = 1;
  auto provider = make();
  ASSERT_TRUE(provider);
  auto const data = report_data(9);
  auto const quote = provider->get_quote(data);
  ASSERT_TRUE(quote) << quote.error().message();
  EXPECT_EQ(*quote, expected_quote(data));
  EXPECT_EQ(kernel_->created.size(), 2u);  // the raced entry was dropped and a new one made
  EXPECT_EQ(kernel_->removed, kernel_->created);
  EXPECT_TRUE(is_empty_dir(dir_.path()));
}

TEST_F(TsmProviderTest, GivesUpWhenEveryAttemptIsRaced) {
  kernel_->racing_writes = 100;
  auto provider = make({.max_attempts = 3});
  ASSERT_TRUE(provider);
  auto const quote = provider->get_quote(report_data(4));
  ASSERT_FALSE(quote);
  EXPECT_EQ(quote.error(), errc::tsm_failed);
  EXPECT_NE(quote.error().message().find("generation"), std::string::npos);
  EXPECT_EQ(kernel_->created.size(), 3u);
  EXPECT_EQ(kernel_->removed, kernel_->created);
}

TEST_F(TsmProviderTest, RefusesAnotherTsmProvider) {
  kernel_->provider = "sev_guest";
  auto provider = make();
  ASSERT_TRUE(provider);
  auto const quote = provider->get_quote(report_data(5));
  ASSERT_FALSE(quote);
  EXPECT_EQ(quote.error(), errc::tsm_failed);
  EXPECT_NE(quote.error().message().find("sev_guest"), std::string::npos);
  EXPECT_TRUE(kernel_->inblobs.empty());  // refused before writing anything
  EXPECT_TRUE(is_empty_dir(dir_.path()));
}

TEST_F(TsmProviderTest, RefusesAnOversizedOutblob) {
  auto provider = make({.max_quote_bytes = 16});
  ASSERT_TRUE(provider);
  auto const quote = provider->get_quote(report_data(6));
  ASSERT_FALSE(quote);
  EXPECT_EQ(quote.error(), errc::tsm_failed);
  EXPECT_NE(quote.error().message().find("exceeds 16 bytes"), std::string::npos);
}

TEST_F(TsmProviderTest, RootRemovedAfterCreationIsUnavailable) {
  auto provider = make();
  ASSERT_TRUE(provider);
  fs::remove(dir_.path());
  auto const quote = provider->get_quote(report_data(0));
  ASSERT_FALSE(quote);
  EXPECT_EQ(quote.error(), errc::tsm_unavailable);
  fs::create_directory(dir_.path());  // for TempDir's cleanup
}

TEST_F(TsmProviderTest, ConcurrentCallsAreSerialisedAndEachGetsItsOwnQuote) {
  auto provider = make();
  ASSERT_TRUE(provider);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (std::uint8_t t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        auto const data = report_data(static_cast<std::uint8_t>(t * 16 + i));
        auto const quote = provider->get_quote(data);
        if (!quote || *quote != expected_quote(data)) ++mismatches;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(kernel_->max_live_entries, 1);
  EXPECT_EQ(kernel_->created.size(), 40u);
  EXPECT_TRUE(is_empty_dir(dir_.path()));
}

// The production filesystem code from here on.

TEST(TsmProvider, MissingRootSaysConfigfsTsmIsNotAvailable) {
  ee::test::TempDir dir;
  auto const provider = ee::tdx::make_tsm_provider({.root = dir.path() / "no" / "tsm"});
  ASSERT_FALSE(provider);
  EXPECT_EQ(provider.error(), errc::tsm_unavailable);
  EXPECT_EQ(provider.error(), ee::condition::unavailable);
  EXPECT_EQ(provider.error().id(), "tdx.tsm_unavailable");
  EXPECT_NE(provider.error().message().find("configfs-tsm is not available"), std::string::npos)
      << provider.error().message();
}

TEST(TsmProvider, PlainDirectoryWithoutConfigfsFailsCleanly) {
  // mkdir works on an ordinary directory but creates no `provider` attribute: the provider must
  // say what is missing, write nothing, and remove the (still empty) entry.
  ee::test::TempDir dir;
  auto provider = ee::tdx::make_tsm_provider({.root = dir.path()});
  ASSERT_TRUE(provider) << provider.error().message();
  auto const quote = (*provider)->get_quote(report_data(1));
  ASSERT_FALSE(quote);
  EXPECT_EQ(quote.error(), errc::tsm_failed);
  EXPECT_NE(quote.error().message().find("provider"), std::string::npos);
  EXPECT_TRUE(is_empty_dir(dir.path()));
}

TEST(TsmProvider, PermissionDeniedIsReported) {
  if (::geteuid() == 0) GTEST_SKIP() << "root bypasses directory permissions";
  ee::test::TempDir dir;
  auto const root = dir.path() / "report";
  fs::create_directory(root);
  ::chmod(root.c_str(), 0500);
  auto provider = ee::tdx::make_tsm_provider({.root = root});
  ASSERT_TRUE(provider) << provider.error().message();
  auto const quote = (*provider)->get_quote(report_data(1));
  ::chmod(root.c_str(), 0700);
  ASSERT_FALSE(quote);
  EXPECT_EQ(quote.error(), errc::tsm_failed);
  EXPECT_NE(quote.error().message().find("root privileges"), std::string::npos)
      << quote.error().message();
}

}  // namespace
