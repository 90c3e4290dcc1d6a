#pragma once
// Output paths checked before any work: a report or spec that cannot be written must fail in the
// first second, not after an hour of training.
//
// Contract:
//   require_writable_file(flag, path): the file's folder exists and a file can be created in it,
//     and `path` is not a directory. Throws InputError "FLAG PATH: reason" otherwise. Creates
//     nothing that outlives the call.
//   require_writable_dir(flag, path): `path` is a directory a file can be created in, or does
//     not exist and its nearest existing ancestor is such a directory (the run creates it).

#include <string>

namespace lossdoctor {

void require_writable_file(const std::string& flag, const std::string& path);
void require_writable_dir(const std::string& flag, const std::string& path);

}  // namespace lossdoctor
