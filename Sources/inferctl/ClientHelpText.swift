/// The help of the client commands: chat, complete, embed, test-api, bench.
extension HelpText {
    /// The help of a client command, or nil when `topic` is not one.
    static func clientText(for topic: String?) -> String? {
        switch topic {
        case "chat": chat
        case "complete": complete
        case "embed": embed
        case "test-api": testAPI
        case "bench": bench
        default: nil
        }
    }

    /// The lines of the overview that list the client commands.
    static let clientCommands = """
          inferctl chat [-m MESSAGE] [options]
                                       talk to a model (a conversation on a terminal)
          inferctl complete -p PROMPT  continue a raw prompt
          inferctl embed TEXT...       embedding vectors
          inferctl test-api            call every route of a running stack: a pass/fail table
          inferctl bench [options]     load an OpenAI-compatible endpoint: throughput, latency, TTFT
          inferctl bench compare A.json B.json
                                       two saved bench runs side by side

        """

    /// The flags every client command takes, and the exit statuses they share.
    static let clientOptions = """
        Common options (chat, complete, embed, test-api, bench):
          --url URL        the API's base URL (INFER_URL, default http://127.0.0.1:8080/v1;
                           http://HOST:PORT alone means HOST:PORT/v1)
          --key KEY        the API key, sent as a bearer token and never printed (INFER_API_KEY;
                           prefer the variable: a flag shows in ps)
          --json           JSON on stdout for scripts instead of text for people
          --timeout SEC    the longest one request may take (default 300)

        Colour only when the output is a terminal, never with NO_COLOR set or TERM=dumb.

        Exit status: 0 done; 1 a request failed (an error status, a timeout, a broken stream; test-api:
        a check failed; bench: no request succeeded); 3 the API cannot be reached; 64 wrong command
        line; 71 a file cannot be read or written (bench --prompts, --out, compare); 78 a file is not
        what it should be (a --prompts file without a prompt, not a saved bench run).

        """

    static let chat = """
        Usage: inferctl chat [-m MESSAGE] [--model NAME] [--system TEXT] [--max-tokens N]
                             [--temperature T] [--no-stream] [--json] [common options]

        On a terminal without -m: a conversation. Each answer is printed as it is written; the
        conversation is kept across turns. /reset forgets it (the system message stays), /exit or
        Ctrl-D leaves, Ctrl-C stops the answer being written (or clears the line being typed) and
        never leaves.

        With -m, or with stdin not a terminal (the message read from it): one question, its answer on
        stdout, then exit.

        Options:
          -m, --message TEXT  the question (one answer, no conversation)
          --model NAME        the model (default: the server's, DEFAULT_MODEL)
          --system TEXT       a system message first
          --max-tokens N      the most tokens to generate (default: the server's)
          --temperature T     0 (greedy) to 2 (default: the server's)
          --no-stream         print the answer when it is complete
          --json              print the server's reply as it is (not streamed)


        """ + clientOptions + """
        Example:
          export INFER_API_KEY=sk-infer-...
          inferctl chat --system "Answer in one sentence."
          inferctl chat -m "What is the capital of France?" --temperature 0
          git log -1 --format=%B | inferctl chat --system "Summarise this commit message."

        """

    static let complete = """
        Usage: inferctl complete -p PROMPT [--model NAME] [--max-tokens N] [--temperature T]
                                 [--no-stream] [--json] [common options]

        Continues the prompt as it is (/v1/completions: no chat template), printing the text as it is
        written. Without -p, the prompt is read from stdin.

        Options:
          -p, --prompt TEXT   the text to continue
          --model NAME, --max-tokens N, --temperature T, --no-stream, --json: as for chat


        """ + clientOptions + """
        Example:
          inferctl complete -p "The three primary colours are" --max-tokens 20 --temperature 0

        """

    static let embed = """
        Usage: inferctl embed TEXT... [--model NAME] [--json] [common options]

        One embedding vector per text (/v1/embeddings); without texts, one per line of stdin. Prints
        each vector's dimensions, length (L2 norm) and first values; --json prints the server's reply,
        every value of every vector.

        Options:
          --model NAME        the embedding model (default: the server's, minilm on infer)


        """ + clientOptions + """
        Example:
          inferctl embed "a first sentence" "a second one"
          inferctl embed --json "hello" | jq '.data[0].embedding | length'

        """

    static let testAPI = """
        Usage: inferctl test-api [--model NAME] [--embedding-model NAME] [common options]

        Calls every route of a running stack the way a client would and prints a pass/fail table:
        GET /, /health, /health/live, /ready, /health/ready, /v1/models; chat completions and completions,
        plain and streamed; embeddings; /v1/infer, /v1/infer/stream, /v1/batch; /metrics,
        /v1/metrics/summary, /v1/metrics/cache, /v1/metrics/cost, /v1/cache/stats; and refusals: a wrong
        API key (401), a body that is not JSON (400), a value out of range (422), an unknown model (404),
        an unknown route (404). Generating checks ask for 8 greedy tokens and bypass the response cache
        (Cache-Control: no-cache, no-store), so each one runs the model. DELETE /v1/cache (it would empty
        a live cache) and webhooks (they need the HMAC secret) are not called. The key needs the scopes
        infer and embed. Exits 0 when every check passed, 1 when one failed, 3 when the stack cannot be
        reached.

        Options:
          --model NAME            the generation model (default: the server's)
          --embedding-model NAME  the embedding model (default: the server's)


        """ + clientOptions

    static let bench = """
        Usage: inferctl bench [--concurrency N] [--requests N] [--duration SEC] [--prompts FILE]
                              [--stream] [--max-tokens N] [--model NAME] [--temperature T]
                              [--allow-cache] [--out FILE] [--json] [common options]
               inferctl bench compare A.json B.json [--json]

        A load generator for any OpenAI-compatible endpoint (infer, llama.cpp's server, vLLM, ...):
        N workers each send the next chat completion as soon as their last one ended, taking the prompts
        in turn, until the request count or the time is used up. A run is always bounded: with neither
        --requests nor --duration it lasts 10 s; with --requests alone it stops sending after 600 s all
        the same; requests still running when the time is up may finish within 60 s (and --timeout),
        then count as unfinished. While it runs, a progress bar on stderr (only when stderr is a
        terminal). Then: requests/s; latency, time to first token (TTFT) and inter-token latency (ITL,
        every gap between two streamed pieces) as mean, p50, p90, p95, p99 and max; tokens generated per
        second (from the server's usage, else pieces of text counted); failures by status.

        Every request carries Cache-Control: no-cache, no-store, so a gateway runs the model each time
        (servers without a response cache ignore it); --allow-cache leaves it out.

        Options:
          --concurrency N     requests in flight at once (default 4, at most 256)
          --requests N        send N requests
          --duration SEC      send requests for SEC (500ms, 10, 2m)
          --prompts FILE      one prompt per line (default: 8 built-in questions)
          --stream            streamed requests: TTFT and ITL are measured
          --max-tokens N      tokens per answer (default 64)
          --model NAME        the model (default: the server's)
          --temperature T     default 0 (greedy), so two servers write the same answers
          --allow-cache       let the gateway answer from its cache
          --out FILE          save the report as JSON, for bench compare
          --json              print the report as JSON

        bench compare prints two saved runs side by side with the ratio B/A of each figure.


        """ + clientOptions + """
        Example:
          inferctl bench --concurrency 8 --duration 30s --stream --out infer.json
          inferctl bench --url http://127.0.0.1:8000/v1 --concurrency 8 --duration 30s --stream --out llama.json
          inferctl bench compare infer.json llama.json

        """
}
