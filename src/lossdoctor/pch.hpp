#pragma once
// Precompiled header for the torch-using targets. Only heavy, stable headers belong here.
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
