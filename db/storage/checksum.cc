#include "db/storage/checksum.h"

#include <xxhash.h>

#include <new>

namespace cowdb::storage {

std::uint64_t Checksum(absl::string_view data) { return XXH3_64bits(data.data(), data.size()); }

std::uint64_t Checksum(absl::string_view head, absl::string_view tail) {
  return XXH3_64bits_withSeed(tail.data(), tail.size(), Checksum(head));
}

struct ChecksumStream::State {
  XXH3_state_t* xxh = nullptr;
};

ChecksumStream::ChecksumStream() : state_(std::make_unique<State>()) {
  state_->xxh = XXH3_createState();
  if (state_->xxh == nullptr) throw std::bad_alloc();
  Reset();
}

ChecksumStream::~ChecksumStream() { XXH3_freeState(state_->xxh); }

void ChecksumStream::Reset() { XXH3_64bits_reset(state_->xxh); }

void ChecksumStream::Update(absl::string_view data) {
  XXH3_64bits_update(state_->xxh, data.data(), data.size());
}

std::uint64_t ChecksumStream::Digest() const { return XXH3_64bits_digest(state_->xxh); }

}  // namespace cowdb::storage
