/// The API description served at `GET /openapi.yaml`, embedded at build time from the repository's
/// `openapi.yaml` (Sources/JobsdServer/openapi.yaml is a link to it), so the binary needs no
/// resource files.
enum OpenAPIDocument {
    static let bytes: [UInt8] = PackageResources.openapi_yaml
}
