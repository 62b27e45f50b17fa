//! The stand-alone `arq-cli` binary. It links no jobs of its own: `run` explains how to build
//! a worker binary; `check` works against any queue.

fn main() -> std::process::ExitCode {
    arq_cli::main()
}
