#pragma once
// Byte layout of TDX quotes, from Intel "TDX DCAP Quoting Library API" (rev 0.9+), appendix A:
// A.3 Quote format v4 (header, TD quote body, quote signature data), A.4 v5 (body descriptor,
// TD 1.5 body), A.3.7-A.3.11 signature data / certification data / QE report certification data.
// The SGX enclave report layout is from the SGX DCAP quote library (sgx_report_body_t).
// All integers are little-endian.
#include <cstddef>
#include <cstdint>

namespace ee::tdx::layout {

// Quote header (A.3.1), 48 bytes.
inline constexpr std::size_t kHeaderSize = 48;
inline constexpr std::size_t kHeaderVersion = 0;          // u16
inline constexpr std::size_t kHeaderAttKeyType = 2;       // u16
inline constexpr std::size_t kHeaderTeeType = 4;          // u32
inline constexpr std::size_t kHeaderQeSvn = 8;            // u16, reserved for TDX
inline constexpr std::size_t kHeaderPceSvn = 10;          // u16, reserved for TDX
inline constexpr std::size_t kHeaderQeVendorId = 12;      // 16 bytes
inline constexpr std::size_t kHeaderUserData = 28;        // 20 bytes

// v5 body descriptor (A.4.2), right after the header.
inline constexpr std::size_t kV5BodyType = 48;            // u16
inline constexpr std::size_t kV5BodySize = 50;            // u32
inline constexpr std::size_t kV5BodyOffset = 54;
inline constexpr std::uint16_t kBodyTypeSgx = 1;
inline constexpr std::uint16_t kBodyTypeTd10 = 2;
inline constexpr std::uint16_t kBodyTypeTd15 = 3;

// TD report body (A.3.2 TD 1.0, A.4.3 TD 1.5): offsets from the start of the body.
inline constexpr std::size_t kTdReport10Size = 584;
inline constexpr std::size_t kTdReport15Size = 648;
inline constexpr std::size_t kTeeTcbSvn = 0;              // 16
inline constexpr std::size_t kMrSeam = 16;                // 48
inline constexpr std::size_t kMrSignerSeam = 64;          // 48
inline constexpr std::size_t kSeamAttributes = 112;       // 8
inline constexpr std::size_t kTdAttributes = 120;         // 8
inline constexpr std::size_t kXfam = 128;                 // 8
inline constexpr std::size_t kMrTd = 136;                 // 48
inline constexpr std::size_t kMrConfigId = 184;           // 48
inline constexpr std::size_t kMrOwner = 232;              // 48
inline constexpr std::size_t kMrOwnerConfig = 280;        // 48
inline constexpr std::size_t kRtmr0 = 328;                // 4 x 48
inline constexpr std::size_t kReportData = 520;           // 64
inline constexpr std::size_t kTeeTcbSvn2 = 584;           // 16, TD 1.5
inline constexpr std::size_t kMrServiceTd = 600;          // 48, TD 1.5

// Quote signature data (A.3.8), after the u32 length that follows the signed bytes.
inline constexpr std::size_t kSignatureSize = 64;         // ECDSA r||s
inline constexpr std::size_t kAttestationKeySize = 64;    // P-256 x||y
inline constexpr std::size_t kCertDataHeaderSize = 6;     // u16 type, u32 size
inline constexpr std::uint16_t kCertTypeQeReport = 6;     // QE report certification data (A.3.11)
inline constexpr std::uint16_t kCertTypePckChain = 5;     // concatenated PCK cert chain, PEM

// SGX enclave report (the QE report), 384 bytes.
inline constexpr std::size_t kEnclaveReportSize = 384;
inline constexpr std::size_t kErCpuSvn = 0;               // 16
inline constexpr std::size_t kErMiscSelect = 16;          // u32
inline constexpr std::size_t kErAttributes = 48;          // 16
inline constexpr std::size_t kErMrEnclave = 64;           // 32
inline constexpr std::size_t kErMrSigner = 128;           // 32
inline constexpr std::size_t kErIsvProdId = 256;          // u16
inline constexpr std::size_t kErIsvSvn = 258;             // u16
inline constexpr std::size_t kErReportData = 320;         // 64

}  // namespace ee::tdx::layout
