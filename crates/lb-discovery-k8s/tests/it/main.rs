//! Integration tests of lb-discovery-k8s against a fake Kubernetes API server on loopback.
