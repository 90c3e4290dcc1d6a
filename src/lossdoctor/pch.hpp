#pragma once
// Precompiled header for the torch-using targets. Only heavy, stable headers belong here.
#include <torch/torch.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>
