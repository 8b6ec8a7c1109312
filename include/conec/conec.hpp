#pragma once
/// @file
/// @brief The whole public API of libconec in one include.
///
/// A Coordinator registers named Clients and introduces them; each pair of
/// clients then talks over its own end-to-end encrypted Channel of framed
/// message Streams, relayed through the coordinator or direct. Groups
/// broadcast through the coordinator. Everything runs on one Loop, on one
/// thread; no call blocks.

#include "conec/address.hpp"
#include "conec/bytes.hpp"
#include "conec/channel.hpp"
#include "conec/client.hpp"
#include "conec/coordinator.hpp"
#include "conec/error.hpp"
#include "conec/group.hpp"
#include "conec/identity.hpp"
#include "conec/log.hpp"
#include "conec/loop.hpp"
#include "conec/stream.hpp"
#include "conec/time.hpp"
#include "conec/version.hpp"
