// fastrt::http2::session_memory (<fastrt/http2/session_memory.hpp>) and
// page_arena (<fastrt/http2/page_arena.hpp>): the nghttp2_mem a session
// allocates with. Blocks of a page to 32 KiB made with the session come from the arena (zero,
// page-aligned, resident only where written) and go back to it, calloc
// zeroes, realloc keeps the bytes across the two kinds, release_idle()
// drops the frame buffer and all-zero blocks, and a real nghttp2 server
// session keeps working across releases (many requests, HPACK dynamic
// table in use, large headers), giving its stream map back too when it
// forgets closed streams (as fastrt's session does).
// ctest-labels: http2
#include <catch2/catch.hpp>
#include <fastrt/http2/page_arena.hpp>
#include <fastrt/http2/session_memory.hpp>

#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

using fastrt::http2::page_arena;
using fastrt::http2::session_memory;

namespace {

// Pages of [block, block + bytes) resident now (mincore).
std::size_t resident_pages(const void* block, std::size_t bytes) {
  std::vector<unsigned char> present((bytes + page_arena::page_size - 1) / page_arena::page_size);
  REQUIRE(::mincore(const_cast<void*>(block), bytes, present.data()) == 0);
  std::size_t n = 0;
  for (unsigned char p : present) n += p & 1;
  return n;
}

bool all_zero(const void* block, std::size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(block);
  for (std::size_t i = 0; i < bytes; ++i)
    if (p[i] != 0) return false;
  return true;
}

}  // namespace

TEST_CASE("page_arena hands out zero, page-aligned blocks and takes their pages back", "[http2][page_arena]") {
  page_arena arena;
  CHECK_FALSE(page_arena::serves(0));
  CHECK_FALSE(page_arena::serves(page_arena::largest_block + 1));
  CHECK(arena.take(page_arena::largest_block + 1) == nullptr);
  CHECK(page_arena::reserved_bytes(1) == 4096);
  CHECK(page_arena::reserved_bytes(4097) == 8192);
  CHECK(page_arena::reserved_bytes(16394) == 32768);

  void* block = arena.take(16394);
  REQUIRE(block);
  CHECK(reinterpret_cast<std::uintptr_t>(block) % page_arena::page_size == 0);
  CHECK(arena.blocks_in_use() == 1);
  CHECK(resident_pages(block, 16394) == 0);
  CHECK(all_zero(block, 16394));  // (after mincore: reading maps the zero page, which mincore counts)
  page_arena::drop(block, 16394);
  std::memset(block, 'x', 100);
  CHECK(resident_pages(block, 16394) == 1);  // only the page written

  page_arena::drop(block, 16394);  // still ours, zero again
  CHECK(resident_pages(block, 16394) == 0);
  CHECK(all_zero(block, 16394));
  page_arena::drop(block, 16394);

  std::memset(block, 'y', 16394);
  arena.give_back(block, 16394);
  CHECK(arena.blocks_in_use() == 0);
  void* again = arena.take(20000);  // the same class: the slot comes back, zero
  CHECK(again == block);
  CHECK(all_zero(again, 20000));
  arena.give_back(again, 20000);
}

TEST_CASE("page_arena carves many blocks from few mappings", "[http2][page_arena]") {
  // One mmap per block would pass vm.max_map_count (65,530) at ~65 k
  // connections; here 3,000 frame buffers take 24 mappings.
  page_arena arena;
  std::vector<void*> blocks;
  for (int i = 0; i < 3000; ++i) {
    blocks.push_back(arena.take(16394));
    REQUIRE(blocks.back());
    static_cast<char*>(blocks.back())[0] = 'x';
  }
  CHECK(arena.mappings() == 3000 * 32768 / page_arena::chunk_size + 1);
  for (void* b : blocks) arena.give_back(b, 16394);
  CHECK(arena.blocks_in_use() == 0);
  const std::size_t mappings = arena.mappings();
  for (int i = 0; i < 3000; ++i) blocks[static_cast<std::size_t>(i)] = arena.take(16394);  // reused, no new mapping
  CHECK(arena.mappings() == mappings);
  for (void* b : blocks) arena.give_back(b, 16394);
}

TEST_CASE("session_memory takes blocks of a page and more from the arena and frees them", "[http2][session_memory]") {
  session_memory memory;
  nghttp2_mem* mem = memory.table();
  void* small = mem->malloc(100, mem->mem_user_data);
  REQUIRE(small);
  CHECK(memory.arena_blocks() == 0);
  void* large = mem->malloc(16 * 1024 + 10, mem->mem_user_data);
  REQUIRE(large);
  CHECK(memory.arena_blocks() == 1);
  std::memset(large, 'x', 16 * 1024 + 10);
  mem->free(large, mem->mem_user_data);
  CHECK(memory.arena_blocks() == 0);
  void* huge = mem->malloc(page_arena::largest_block + 1, mem->mem_user_data);  // beyond the arena: malloc
  REQUIRE(huge);
  CHECK(memory.arena_blocks() == 0);
  mem->free(huge, mem->mem_user_data);
  mem->free(small, mem->mem_user_data);
  mem->free(nullptr, mem->mem_user_data);
}

TEST_CASE("session_memory calloc zeroes both kinds and refuses overflow", "[http2][session_memory]") {
  session_memory memory;
  nghttp2_mem* mem = memory.table();
  for (std::size_t size : {std::size_t{64}, std::size_t{4096}, std::size_t{20'000}, std::size_t{40'000}}) {
    auto* block = static_cast<unsigned char*>(mem->malloc(size, mem->mem_user_data));
    REQUIRE(block);
    std::memset(block, 0xab, size);  // a recycled block is not zero...
    mem->free(block, mem->mem_user_data);
    block = static_cast<unsigned char*>(mem->calloc(1, size, mem->mem_user_data));  // ...but calloc's is
    REQUIRE(block);
    CHECK(all_zero(block, size));
    mem->free(block, mem->mem_user_data);
  }
  CHECK(mem->calloc(static_cast<std::size_t>(-1) / 2, 4, mem->mem_user_data) == nullptr);
}

TEST_CASE("session_memory realloc keeps the bytes, in the arena or not", "[http2][session_memory]") {
  session_memory memory;
  nghttp2_mem* mem = memory.table();
  auto* block = static_cast<char*>(mem->realloc(nullptr, 100, mem->mem_user_data));  // realloc(NULL) = malloc
  REQUIRE(block);
  std::memcpy(block, "kept", 4);
  block = static_cast<char*>(mem->realloc(block, 10'000, mem->mem_user_data));  // malloc'd → arena
  REQUIRE(block);
  CHECK(std::string(block, 4) == "kept");
  CHECK(memory.arena_blocks() == 1);
  block = static_cast<char*>(mem->realloc(block, 30'000, mem->mem_user_data));  // arena → larger arena
  REQUIRE(block);
  CHECK(std::string(block, 4) == "kept");
  CHECK(memory.arena_blocks() == 1);
  block = static_cast<char*>(mem->realloc(block, 16, mem->mem_user_data));  // arena → malloc'd
  REQUIRE(block);
  CHECK(std::string(block, 4) == "kept");
  CHECK(memory.arena_blocks() == 0);
  mem->free(block, mem->mem_user_data);
}

TEST_CASE("session_memory release_idle drops the output scratch and all-zero blocks only", "[http2][session_memory]") {
  session_memory memory;
  nghttp2_mem* mem = memory.table();
  // As nghttp2_session_server_new3 makes them: the stream map (not
  // scratch), the frame buffer, and here two more.
  void* map = mem->calloc(1, 4096, mem->mem_user_data);
  void* scratch = mem->malloc(16394, mem->mem_user_data);
  void* zero = mem->calloc(1, 4096, mem->mem_user_data);
  void* kept = mem->malloc(8192, mem->mem_user_data);
  memory.seal_output_buffer();
  REQUIRE((map && scratch && zero && kept));
  CHECK(memory.arena_blocks() == 4);
  void* later = mem->malloc(8192, mem->mem_user_data);  // made while serving: malloc (no madvise when freed)
  REQUIRE(later);
  CHECK(memory.arena_blocks() == 4);
  mem->free(later, mem->mem_user_data);
  static_cast<char*>(map)[100] = 7;  // a stream in the map
  std::memset(scratch, 'f', 5000);
  static_cast<char*>(zero)[10] = 1;  // written, then zero again (a map entry removed)
  static_cast<char*>(zero)[10] = 0;
  std::memset(kept, 'k', 8192);
  CHECK(resident_pages(scratch, 16394) == 2);
  CHECK(resident_pages(zero, 4096) == 1);

  CHECK(memory.release_idle() == 32768 + 4096);
  CHECK(resident_pages(scratch, 16394) == 0);
  CHECK(resident_pages(zero, 4096) == 0);
  CHECK(all_zero(zero, 4096));
  CHECK(resident_pages(kept, 8192) == 2);  // not zero, not scratch: untouched
  CHECK(std::string(static_cast<char*>(kept), 3) == "kkk");
  CHECK(resident_pages(map, 4096) == 1);
  CHECK(static_cast<char*>(map)[100] == 7);
  for (void* b : {map, scratch, zero, kept}) mem->free(b, mem->mem_user_data);
}

namespace {

nghttp2_nv field(std::string_view name, std::string_view value, std::uint8_t flags = NGHTTP2_NV_FLAG_NONE) {
  auto* n = reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data()));
  auto* v = reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data()));
  return {n, v, name.size(), value.size(), flags};
}

// A minimal HTTP/2 client/server pair in memory: the server's session runs
// on session_memory; every response is read back by the client session.
struct pair_in_memory {
  session_memory memory;
  nghttp2_session* server = nullptr;
  nghttp2_session* client = nullptr;
  int responses = 0;
  static std::string large_value(std::int32_t stream_id) { return std::to_string(stream_id) + std::string(3000, 'b'); }

  static int on_server_frame(nghttp2_session* s, const nghttp2_frame* frame, void* self) {
    if (frame->hd.type != NGHTTP2_HEADERS || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
    (void)self;
    // A large header that changes per request, and one that repeats (indexed in the dynamic table).
    const std::string value = large_value(frame->hd.stream_id);
    const nghttp2_nv nv[] = {field(":status", "200"), field("x-repeated", "same-every-time"),
                             field("x-large", value, NGHTTP2_NV_FLAG_NO_INDEX)};
    return nghttp2_submit_response(s, frame->hd.stream_id, nv, 3, nullptr);
  }
  static int on_client_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t namelen,
                              const std::uint8_t* value, std::size_t valuelen, std::uint8_t, void* self) {
    const std::string n(reinterpret_cast<const char*>(name), namelen);
    const std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (n == "x-large" && v == large_value(frame->hd.stream_id)) ++static_cast<pair_in_memory*>(self)->responses;
    return 0;
  }

  // `closed_streams`: what nghttp2 does with closed streams — keeps some
  // in its stream map (its default), or forgets them (fastrt's session).
  enum class closed_streams : std::uint8_t { kept, forgotten };

  explicit pair_in_memory(closed_streams closed) {
    nghttp2_session_callbacks* callbacks = nullptr;
    REQUIRE(nghttp2_session_callbacks_new(&callbacks) == 0);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &on_server_frame);
    nghttp2_option* option = nullptr;
    REQUIRE(nghttp2_option_new(&option) == 0);
    nghttp2_option_set_no_closed_streams(option, closed == closed_streams::forgotten ? 1 : 0);
    REQUIRE(nghttp2_session_server_new3(&server, callbacks, this, option, memory.table()) == 0);
    memory.seal_output_buffer();
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);
    REQUIRE(nghttp2_session_callbacks_new(&callbacks) == 0);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &on_client_header);
    REQUIRE(nghttp2_session_client_new(&client, callbacks, this) == 0);
    nghttp2_session_callbacks_del(callbacks);
    REQUIRE(nghttp2_submit_settings(server, NGHTTP2_FLAG_NONE, nullptr, 0) == 0);
    REQUIRE(nghttp2_submit_settings(client, NGHTTP2_FLAG_NONE, nullptr, 0) == 0);
  }
  ~pair_in_memory() {
    nghttp2_session_del(client);
    nghttp2_session_del(server);
  }

  static void pump(nghttp2_session* from, nghttp2_session* to) {
    const std::uint8_t* data = nullptr;
    for (;;) {
      const auto n = nghttp2_session_mem_send(from, &data);
      REQUIRE(n >= 0);
      if (n == 0) return;
      REQUIRE(nghttp2_session_mem_recv(to, data, static_cast<std::size_t>(n)) == n);
    }
  }
  void exchange() {
    for (int i = 0; i < 4; ++i) {
      pump(client, server);
      pump(server, client);
    }
  }
  void request(int n) {
    const std::string path = "/path/" + std::to_string(n) + std::string(2000, 'p');
    const std::string cookie = "session=" + std::string(100, 'c');  // the same each time: indexed
    const nghttp2_nv nv[] = {field(":method", "GET"), field(":scheme", "http"), field(":authority", "example"),
                             field(":path", path), field("cookie", cookie)};
    REQUIRE(nghttp2_submit_request(client, nullptr, nv, 5, nullptr, nullptr) > 0);
  }
};

}  // namespace

namespace {

// 200 requests (67 of them with a second stream at once) with release_idle
// after each; `map_released`: what release_idle gives back at each idle
// moment besides the frame buffer (32 KiB).
void serve_across_releases(pair_in_memory::closed_streams closed, std::size_t map_released) {
  pair_in_memory pair(closed);
  CHECK(pair.memory.arena_blocks() == 2);  // the stream map and the frame buffer
  CHECK(pair.memory.release_idle() == 32768 + 4096);  // no stream yet: the map is zero
  pair.exchange();
  for (int i = 0; i < 200; ++i) {
    pair.request(i);
    if (i % 3 == 0) pair.request(1000 + i);  // sometimes two streams at once
    pair.exchange();
    REQUIRE_FALSE(nghttp2_session_want_write(pair.server));
    CHECK(pair.memory.release_idle() == 32768 + map_released);
  }
  CHECK(pair.responses == 200 + 67);
  CHECK(nghttp2_session_get_hd_deflate_dynamic_table_size(pair.server) > 0);  // HPACK's table was in use
  CHECK(nghttp2_session_get_hd_inflate_dynamic_table_size(pair.server) > 0);
}

}  // namespace

TEST_CASE("an nghttp2 server session keeps working across release_idle", "[http2][session_memory]") {
  // Idle: the frame buffer's pages go back; the stream map holds the
  // closed streams nghttp2 keeps (not zero), so it stays.
  serve_across_releases(pair_in_memory::closed_streams::kept, 0);
}

TEST_CASE("an nghttp2 session that forgets closed streams gives its stream map back when idle",
          "[http2][session_memory]") {
  // fastrt's session (no_closed_streams): no stream left in the map once
  // the requests are answered, so the map is zero again and its page goes
  // back too, every time.
  serve_across_releases(pair_in_memory::closed_streams::forgotten, 4096);
}
