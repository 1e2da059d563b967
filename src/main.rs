/// Counts the memory in use, so a script that runs away with it is stopped before an allocation
/// fails (see `engine::heap`).
#[global_allocator]
static ALLOC: nslab::engine::heap::Counting = nslab::engine::heap::Counting;

fn main() {
    std::process::exit(nslab::cli::main());
}
