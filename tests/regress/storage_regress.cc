// Frozen failures of the storage layer found by the fuzz targets (tests/fuzz/). Each test states
// what the storage promises and fails while the bug is there.
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cowdb/internal/node_codec.h"
#include "cowdb/pvec.h"
#include "fmt/format.h"

namespace {

using cowdb::internal::node_ref;
using cowdb::internal::node_table;
using cowdb::internal::pvec_access;

// Nodes kept in memory: ref k is the k-th record written.
class Records final : public cowdb::internal::node_io {
 public:
  absl::StatusOr<node_ref> Write(std::string_view bytes) override {
    stored_.emplace_back(bytes);
    return node_ref{stored_.size()};
  }
  absl::StatusOr<std::string> Read(node_ref ref) override {
    if (ref == 0 || ref > stored_.size()) return absl::DataLossError(Describe(ref));
    return stored_[ref - 1];
  }
  std::string Describe(node_ref ref) const override { return fmt::format("record {}", ref); }

 private:
  std::vector<std::string> stored_;
};

// Found by db_open_fuzz (corpus input db_open_fuzz/type-confusion): a version record whose
// dataset named, under the std::string type tag, the root of an int64 dataset another version
// had loaded. The loader reused the int64 node from its node table (it checked only the level),
// so Open succeeded and Get<std::string> read int64 leaves as strings. A stored node reached as
// another element type must be kDataLoss.
TEST_CASE("regress: a stored node reached again as another element type is kDataLoss",
          "[storage][regress]") {
  using Ints = cowdb::pvec<std::int64_t>;
  using Strings = cowdb::pvec<std::string>;
  using IntCodec = cowdb::internal::tree_codec<std::int64_t, Ints::chunk_capacity, Ints::fanout>;
  using StringCodec =
      cowdb::internal::tree_codec<std::string, Strings::chunk_capacity, Strings::fanout>;
  Records io;
  node_table table;
  const Ints ints(100, 7);
  const auto& rep = pvec_access::rep(ints);
  const absl::StatusOr<node_ref> root = IntCodec::save(rep, table, io);
  REQUIRE(root.ok());
  table.commit();
  // Loading it as int64 again reuses the node (adopted: the loaded tree holds a reference); as
  // std::string it is corrupt.
  absl::StatusOr<cowdb::internal::tree_rep> again =
      IntCodec::load(*root, rep.depth, rep.size, table, io);
  REQUIRE(again.ok());
  const Ints back = pvec_access::adopt<Ints>(*std::move(again));
  CHECK(back == ints);
  const absl::Status as_strings = StringCodec::load(*root, rep.depth, rep.size, table, io).status();
  CHECK(absl::IsDataLoss(as_strings));
  CHECK(as_strings.message().find("another element type") != absl::string_view::npos);
  // A fresh table reads the int64 record as a string leaf: its own checks refuse it too.
  node_table fresh;
  CHECK(absl::IsDataLoss(StringCodec::load(*root, rep.depth, rep.size, fresh, io).status()));
}

}  // namespace
