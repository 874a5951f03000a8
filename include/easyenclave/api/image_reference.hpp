#pragma once
/// @file Container image references, read one way everywhere: the catalog's pinned images, the
/// agent's deploy requests, the workload runtimes and the launcher's OCI disks all parse through
/// `ImageReference`, so what one accepts the others accept too.
#include <easyenclave/api/error.hpp>
#include <easyenclave/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace ee::api {

/// At most this many characters in a reference's name (registry, '/', repository), as in the
/// OCI distribution reference grammar.
inline constexpr std::size_t kMaxImageName = 255;
/// At most this many characters in a tag.
inline constexpr std::size_t kMaxImageTag = 128;
/// At most this many characters in a whole reference: a name, ':' and a tag, '@' and a digest.
inline constexpr std::size_t kMaxImageReference = kMaxImageName + 1 + kMaxImageTag + 1 + 71;

/// A container image reference as the OCI distribution specification writes it:
/// `[REGISTRY/]REPOSITORY[:TAG][@DIGEST]`.
///
/// - REGISTRY is `host[:port]`: DNS labels of [A-Za-z0-9-] (not starting or ending with '-')
///   joined by '.', or a bracketed IPv6 address; the port 1-65535. The first path component is
///   the registry only when it has a '.' or a ':', is `localhost`, or is bracketed, as Docker
///   and podman decide; otherwise it belongs to the repository ("library/nginx").
/// - REPOSITORY is '/'-separated components, each runs of [a-z0-9] joined by '.', '_', "__" or
///   runs of '-': lower case only.
/// - TAG is `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
/// - DIGEST is `sha256:` and 64 lower-case hex characters (the only algorithm easyenclave pins
///   with).
/// - REGISTRY, '/' and REPOSITORY together are at most 255 characters.
///
/// Only `parse` makes one, so every value is well formed. Nothing is normalised: no implicit
/// `docker.io` or `latest`, and `to_string()` gives back exactly the text that was parsed.
/// A plain value: copyable, no shared state, safe to use from any thread.
class ImageReference {
 public:
  /// Parses `text`. Fails with errc::invalid_field and a message "<field>: <rule>" naming the
  /// part at fault (registry, repository, tag, digest, length); the message never contains
  /// `text`. Does not throw (except std::bad_alloc). `text` is copied.
  static result<ImageReference> parse(std::string_view text, std::string_view field = "image");
  /// As `parse`, and the reference must carry a digest ("NAME@sha256:<64 hex>"): an image pinned
  /// by its content, as the catalog and the agent require.
  static result<ImageReference> parse_pinned(std::string_view text,
                                             std::string_view field = "image");

  /// `host[:port]`, or empty when the reference names no registry.
  std::string const& registry() const noexcept { return registry_; }
  /// The repository path ("acme/app").
  std::string const& repository() const noexcept { return repository_; }
  /// Empty when the reference has no tag.
  std::string const& tag() const noexcept { return tag_; }
  /// `sha256:<64 hex>`, or empty when the reference has no digest.
  std::string const& digest() const noexcept { return digest_; }
  /// True when the reference carries a digest.
  bool pinned() const noexcept { return !digest_.empty(); }
  /// The name: `registry/repository`, or the repository alone.
  std::string name() const;
  /// The reference in its one spelling, `[registry/]repository[:tag][@digest]`; parsing it gives
  /// an equal reference.
  std::string to_string() const;

  friend bool operator==(ImageReference const&, ImageReference const&) = default;

 private:
  ImageReference() = default;
  std::string registry_{};
  std::string repository_{};
  std::string tag_{};
  std::string digest_{};
};

}  // namespace ee::api
