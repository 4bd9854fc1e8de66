fn main() -> std::process::ExitCode {
    duckgoose::cli::main()
}
