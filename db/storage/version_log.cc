#include "db/storage/version_log.h"

#include <algorithm>
#include <utility>

#include "cowdb/internal/coding.h"
#include "cowdb/status.h"
#include "fmt/format.h"

namespace cowdb::storage {
namespace {

using internal::byte_reader;
using internal::PutFixed32;
using internal::PutFixed64;

void PutStr(std::string* out, std::string_view s) {
  PutFixed32(out, static_cast<std::uint32_t>(s.size()));
  out->append(s.data(), s.size());
}

absl::Status Bad(std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("malformed {} record", what));
}

}  // namespace

std::string EncodeVersion(const VersionRecord& v) {
  std::string out;
  PutFixed64(&out, v.id);
  out.push_back(static_cast<char>(v.parents.size()));
  for (const std::uint64_t p : v.parents) PutFixed64(&out, p);
  PutFixed64(&out, static_cast<std::uint64_t>(v.time_ns));
  PutStr(&out, v.message);
  PutFixed64(&out, v.nodes_begin);
  PutFixed64(&out, v.nodes_checksum);
  PutFixed64(&out, v.next_row_id);
  PutFixed32(&out, static_cast<std::uint32_t>(v.datasets.size()));
  for (const DatasetRecord& d : v.datasets) {
    PutStr(&out, d.name);
    PutStr(&out, d.type_tag);
    PutFixed64(&out, d.root);
    PutFixed32(&out, d.depth);
    PutFixed64(&out, d.rows);
  }
  return out;
}

absl::StatusOr<VersionRecord> DecodeVersion(std::string_view payload) {
  byte_reader in(payload);
  VersionRecord v;
  std::uint8_t nparents = 0;
  if (!in.u64(&v.id) || !in.u8(&nparents) || nparents > 2) return Bad("version");
  v.parents.resize(nparents);
  for (std::uint64_t& p : v.parents) {
    if (!in.u64(&p)) return Bad("version");
  }
  std::uint64_t time = 0;
  std::uint32_t ndatasets = 0;
  if (!in.u64(&time) || !in.str(&v.message) || !in.u64(&v.nodes_begin) ||
      !in.u64(&v.nodes_checksum) || !in.u64(&v.next_row_id) || !in.u32(&ndatasets)) {
    return Bad("version");
  }
  v.time_ns = static_cast<std::int64_t>(time);
  // Each dataset takes at least 28 bytes: no count can make us allocate past the payload.
  if (ndatasets > in.rest().size() / 28) return Bad("version");
  v.datasets.resize(ndatasets);
  for (DatasetRecord& d : v.datasets) {
    if (!in.str(&d.name) || !in.str(&d.type_tag) || !in.u64(&d.root) || !in.u32(&d.depth) ||
        !in.u64(&d.rows)) {
      return Bad("version");
    }
  }
  if (!in.rest().empty()) return Bad("version");
  return v;
}

std::string EncodeRef(const RefRecord& r) {
  std::string out;
  out.push_back(r.tag ? 1 : 0);
  out.push_back(r.erase ? 1 : r.rename_to.empty() ? 0 : 2);
  PutStr(&out, r.name);
  PutFixed64(&out, r.version);
  if (!r.erase && !r.rename_to.empty()) PutStr(&out, r.rename_to);
  return out;
}

absl::StatusOr<RefRecord> DecodeRef(std::string_view payload) {
  byte_reader in(payload);
  RefRecord r;
  std::uint8_t kind = 0, op = 0;
  if (!in.u8(&kind) || !in.u8(&op) || kind > 1 || op > 2 || !in.str(&r.name) ||
      !in.u64(&r.version) || (op == 2 && (!in.str(&r.rename_to) || r.rename_to.empty())) ||
      !in.rest().empty()) {
    return Bad("branch/tag");
  }
  r.tag = kind == 1;
  r.erase = op == 1;
  return r;
}

std::string EncodePrune(const PruneRecord& p) {
  std::string out;
  PutFixed32(&out, static_cast<std::uint32_t>(p.ids.size()));
  for (const std::uint64_t id : p.ids) PutFixed64(&out, id);
  return out;
}

absl::StatusOr<PruneRecord> DecodePrune(std::string_view payload) {
  byte_reader in(payload);
  std::uint32_t n = 0;
  if (!in.u32(&n) || in.rest().size() != std::size_t{n} * 8) return Bad("prune");
  PruneRecord p;
  p.ids.resize(n);
  for (std::uint64_t& id : p.ids) in.u64(&id);
  return p;
}

// ---- replay --------------------------------------------------------------------------------

absl::Status VersionLogReplay::Apply(const std::string& path, const LogRecord& record) {
  absl::Status s;
  switch (record.type) {
    case kVersionRecord: {
      absl::StatusOr<VersionRecord> v = DecodeVersion(record.payload);
      s = v.ok() ? ApplyVersion(*std::move(v), record.offset) : v.status();
      break;
    }
    case kRefRecord: {
      absl::StatusOr<RefRecord> r = DecodeRef(record.payload);
      s = r.ok() ? ApplyRef(*r) : r.status();
      break;
    }
    case kCheckpointRecord:
      if (!record.payload.empty() || last_id_ != 0) {
        s = absl::InvalidArgumentError("a checkpoint record that does not start the history");
      }
      break;
    case kPruneRecord: {
      absl::StatusOr<PruneRecord> p = DecodePrune(record.payload);
      s = p.ok() ? ApplyPrune(*p) : p.status();
      break;
    }
    default: s = absl::InvalidArgumentError(fmt::format("unknown record type {}", record.type));
  }
  if (s.ok()) return s;
  return absl::DataLossError(
      fmt::format("data file \"{}\": {} at offset {}", path, s.message(), record.offset));
}

// Row ids (cowdb/internal/row_ids.h) stay below this: 2^62 ids is more than a process makes in
// centuries. A stored counter above it is corrupt; accepting it would let the process's counter
// wrap around at the next rows made, and a later version record would then count backwards.
constexpr std::uint64_t kRowIdLimit = std::uint64_t{1} << 62;

absl::Status VersionLogReplay::ApplyVersion(VersionRecord v, std::uint64_t offset) {
  if (v.id != last_id_ + 1) {
    return absl::InvalidArgumentError(fmt::format("version {} follows version {}", v.id, last_id_));
  }
  for (const std::uint64_t p : v.parents) {
    if (!ancestry_.contains(p)) {
      return absl::InvalidArgumentError(fmt::format("version {} has unknown parent {}", v.id, p));
    }
  }
  if (v.nodes_begin < kLogFileHeaderSize || v.nodes_begin > offset) {
    return absl::InvalidArgumentError(fmt::format(
        "version {} names its nodes from offset {}, not between the file header and the record",
        v.id, v.nodes_begin));
  }
  if (v.next_row_id < next_row_id_) {
    return absl::InvalidArgumentError(fmt::format("version {} moves the row ids backwards", v.id));
  }
  if (v.next_row_id > kRowIdLimit) {
    return absl::InvalidArgumentError(
        fmt::format("version {} counts row ids up to {}, beyond the limit {}", v.id, v.next_row_id,
                    kRowIdLimit));
  }
  for (std::size_t k = 1; k < v.datasets.size(); ++k) {
    if (!(v.datasets[k - 1].name < v.datasets[k].name)) {
      return absl::InvalidArgumentError(
          fmt::format("version {} lists its datasets out of order", v.id));
    }
  }
  ancestry_.emplace(v.id, v.parents);
  last_id_ = v.id;
  next_row_id_ = v.next_row_id;
  versions_.emplace(v.id, std::move(v));
  return absl::OkStatus();
}

absl::Status VersionLogReplay::ApplyRef(const RefRecord& r) {
  auto& table = r.tag ? tags_ : branches_;
  const char* kind = r.tag ? "tag" : "branch";
  if (r.erase) {
    if (table.erase(r.name) == 0) {
      return absl::InvalidArgumentError(fmt::format("deletes unknown {} \"{}\"", kind, r.name));
    }
    return absl::OkStatus();
  }
  if (!r.rename_to.empty()) {
    const auto it = table.find(r.name);
    if (it == table.end() || table.contains(r.rename_to)) {
      return absl::InvalidArgumentError(
          fmt::format("renames {} \"{}\" to \"{}\": not possible", kind, r.name, r.rename_to));
    }
    const std::uint64_t at = it->second;
    table.erase(it);
    table.emplace(r.rename_to, at);
    return absl::OkStatus();
  }
  if (!versions_.contains(r.version)) {
    return absl::InvalidArgumentError(
        fmt::format("{} \"{}\" set to version {}, not retained", kind, r.name, r.version));
  }
  table[r.name] = r.version;
  return absl::OkStatus();
}

absl::Status VersionLogReplay::ApplyPrune(const PruneRecord& p) {
  if (!std::is_sorted(p.ids.begin(), p.ids.end()) ||
      std::adjacent_find(p.ids.begin(), p.ids.end()) != p.ids.end()) {
    return absl::InvalidArgumentError("prune ids not ascending");
  }
  for (const std::uint64_t id : p.ids) {
    if (!versions_.contains(id)) {
      return absl::InvalidArgumentError(fmt::format("prunes version {}, not retained", id));
    }
    for (const auto* table : {&branches_, &tags_}) {
      for (const auto& [name, at] : *table) {
        if (at == id) {
          return absl::InvalidArgumentError(
              fmt::format("prunes version {}, still named by \"{}\"", id, name));
        }
      }
    }
  }
  for (const std::uint64_t id : p.ids) versions_.erase(id);
  return absl::OkStatus();
}

}  // namespace cowdb::storage
