/// infer's version: what `GET /` and `inferctl version` report, and what the Debian package is built as
/// (with the git revision appended there). One number for the whole stack: the daemons ship together.
public enum InferVersion {
    public static let string = "0.2.0"
}
