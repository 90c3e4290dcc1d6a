#pragma once
// Whole-file structure checks of image files, before they are decoded (private to the data
// stage). OpenCV decodes a truncated JPEG with only a libjpeg warning on stderr (the missing rows
// come out grey) and may do the same with a cut-off PNG or BMP, so a damaged file would train
// silently.
//
// Contract:
//   ensures:  "" when the file's structure is complete, else one line saying what is missing,
//             e.g. "truncated JPEG: no end-of-image marker (...)". The format is told by the
//             file's signature, not its extension: JPEG must reach its end-of-image marker
//             (FF D9), PNG its IEND chunk, BMP the size its header declares. A file of any
//             other format (or empty) is refused here too ("cannot decode image: not a JPEG,
//             PNG or BMP file ..."): OpenCV would hand it to GDAL/GDCM, which can abort the
//             process. An unreadable file gives "" (the decoder judges it).
//   throws:   nothing.

#include <string>

namespace lossdoctor::data::detail {

std::string image_truncation(const std::string& path);

}  // namespace lossdoctor::data::detail
