//! lb-tower against real peers on 127.0.0.1: hyper HTTP/1.1 and h2c servers, tonic servers.

mod discover;
mod grpc;
mod http;
mod ready;
mod support;
