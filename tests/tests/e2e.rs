//! The one end-to-end test binary. Each area is a module in `tests/e2e/<area>.rs`:
//! add one `mod <area>;` line below (inside `mod e2e`, so the files live in `tests/e2e/`).
//! Run everything with `scripts/test`; it builds, sets up `.tools/` and starts moto.

mod e2e {
    mod backend;
    mod cli;
    mod fanout;
    mod gitlab;
    mod harness;
    mod provider;
    mod reliability;
}
