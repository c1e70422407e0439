//! The fake MCP server over stdio, for whole-bot tests: `fake-mcp-stdio CALL_LOG`.

fn main() {
    let log = std::env::args_os()
        .nth(1)
        .expect("usage: fake-mcp-stdio CALL_LOG");
    hearth_tests::mcp::serve_stdio(std::path::Path::new(&log));
}
