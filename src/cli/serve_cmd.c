/* `jpki serve`: the options of the server process and what it prints; the
 * process itself (store, migrations, keys, HTTP, periodic work) is the
 * serve module's (include/jpki/serve.h). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "jpki/serve.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	stopping = 1;
}

static void serve_usage(FILE *f)
{
	fputs("usage: jpki serve [--listen ADDR:PORT] [--roles LIST] "
	      "[--threads N]\n"
	      "                  [--pid-file FILE] [--ocsp-listen ADDR:PORT]\n"
	      "                  [--ocsp-signer delegated|ca]\n"
	      "                  [--max-connections N] [--per-address N]\n"
	      "                  [--ocsp-connections N] [--header-timeout S]\n"
	      "                  [--body-timeout S]\n"
	      "                  [--login-free-failures N] "
	      "[--login-lock-failures N]\n"
	      "                  [--login-address-failures N] "
	      "[--login-max-wait S]\n"
	      "                  [--kiosk-burst N] [--kiosk-every S]\n"
	      "                  [--oidc-issuer URL]\n"
	      "                  [--tls-cert FILE --tls-key FILE "
	      "[--tls-client-ca FILE]]\n"
	      "                  [--revocation-access open|registered]\n"
	      "                  [--read-store URL [--max-lag-ms N]]\n"
	      "\n"
	      "  --listen    where to listen (default: config listen or\n"
	      "              127.0.0.1:8080; port 0 picks a free port)\n"
	      "  --roles     all (default), repository, ocsp, login,\n"
	      "              window, portal, kiosk; comma-separated;\n"
	      "              oidc (not in all): an OpenID Connect provider\n"
	      "  --threads   worker threads (default: one per core; four\n"
	      "              per core, at most 32, on PostgreSQL)\n"
	      "  --pid-file  write the process id there once listening\n"
	      "  --ocsp-listen  a second listener that answers OCSP only,\n"
	      "              with connections no other client can take;\n"
	      "              config ocsp_listen\n"
	      "  --ocsp-signer  who signs OCSP responses: delegated (the\n"
	      "              default: the OCSP signer, its certificate in\n"
	      "              each response) or ca (the CA key itself, no\n"
	      "              certificate: a third of the size, but the CA\n"
	      "              key on the responder); config ocsp_signer\n"
	      "  --max-connections  on the main listener (default 512);\n"
	      "              config max_connections\n"
	      "  --ocsp-connections  on the OCSP listener (default 128);\n"
	      "              config ocsp_connections\n"
	      "  --per-address  connections one client address may hold\n"
	      "              on a listener (default 64); config\n"
	      "              per_address_connections\n"
	      "  --header-timeout  seconds a request's headers may take\n"
	      "              from the connection's start or the previous\n"
	      "              answer (default 10); config header_timeout\n"
	      "  --body-timeout  seconds from the headers to the answer\n"
	      "              sent (default 30); config body_timeout\n"
	      "  --login-free-failures  wrong passwords an operator may\n"
	      "              give before each next try waits 2^k s (default\n"
	      "              5, at most 1000); config login_free_failures\n"
	      "  --login-lock-failures  wrong passwords that lock the\n"
	      "              operator (default 20, more than the free ones);\n"
	      "              config login_lock_failures\n"
	      "  --login-address-failures  wrong passwords one client\n"
	      "              address may give before it waits (default 10);\n"
	      "              config login_address_failures\n"
	      "  --login-max-wait  the longest wait, seconds (default\n"
	      "              3600, at most 86400); config login_max_wait\n"
	      "  --kiosk-burst  kiosk log-ins a terminal may make at once\n"
	      "              (default 2, at most 100); config kiosk_burst\n"
	      "  --kiosk-every  seconds for one more (default 30, at most\n"
	      "              3600); config kiosk_every\n"
	      "  --oidc-issuer  the provider's URL as browsers see it\n"
	      "              (default: the CA's public URL); config\n"
	      "              oidc_issuer; keys DATA/keys/oidc.key and\n"
	      "              DATA/keys/oidc-subject.secret, made if missing\n"
	      "  --tls-cert  HTTPS: the server's certificate (PEM, chain\n"
	      "              after it); config tls_cert\n"
	      "  --tls-key   its key (PEM, unencrypted); config tls_key\n"
	      "  --tls-client-ca  CA certificate(s) (PEM) of the terminals:\n"
	      "              every client is asked for a certificate, and\n"
	      "              the internal role (window: /window, /api) is\n"
	      "              refused (403) without one that verifies to\n"
	      "              them; the public roles (repository, ocsp,\n"
	      "              login, portal, kiosk) do not need one; config\n"
	      "              tls_client_ca\n"
	      "  --revocation-access open|registered  open (default, a\n"
	      "              sandbox): OCSP, CRLs and /link/ answer anyone;\n"
	      "              registered: only a verifier registered with\n"
	      "              `jpki verifier add` whose client certificate\n"
	      "              verifies to --tls-client-ca (else 403), each\n"
	      "              answer counted (`jpki verifier usage`); config\n"
	      "              revocation_access\n"
	      "  --read-store URL  a replica (a PostgreSQL hot standby) the\n"
	      "              ocsp and repository roles read status, CRLs\n"
	      "              and CA certificates from; every write still\n"
	      "              goes to --store (the primary); libpq's\n"
	      "              target_session_attrs picks among hosts; config\n"
	      "              read_store (docs/PERFORMANCE.md, \"Replicas\")\n"
	      "  --max-lag-ms N  the replica's staleness bound (default\n"
	      "              5000, 50 to 3600000): past it OCSP answers\n"
	      "              tryLater but for revocations, CRLs and /healthz\n"
	      "              503; config max_lag_ms\n"
	      "\n"
	      "Without --tls-cert the listener is plain HTTP and nothing\n"
	      "authenticates the terminals of the window but the clerks'\n"
	      "passwords (docs/ARCHITECTURE.md, \"Links between roles\").\n"
	      "\n"
	      "CRLs are regenerated on every revocation and, while serving,\n"
	      "whenever one comes within half a period (config crl_period,\n"
	      "seconds) of its nextUpdate.\n"
	      "\n"
	      "Log-in answers (docs/LOGIN.md) are bound to the origin of the\n"
	      "CA's public URL, or of config login_origin when it is set.\n",
	      f);
}

static const char *flag_name(const struct option *o, int c)
{
	for (; o->name != NULL; o++)
		if (o->val == c)
			return o->name;
	return "?";
}

/* What the server answers where, for the person who started it. */
static void print_urls(const struct jpki_serve *sv, const char *listen,
		       const struct jpki_serve_options *o)
{
	struct jpki_ca *ca = jpki_serve_ca(sv);
	unsigned roles = jpki_serve_roles(sv);
	char base[64], sign[16], auth[16];
	int gs = jpki_ca_generation(ca, JPKI_CERT_SIGN);
	int ga = jpki_ca_generation(ca, JPKI_CERT_AUTH);

	/* the current generation of each CA ("sign-2" after a rollover) */
	snprintf(sign, sizeof(sign), gs > 1 ? "sign-%d" : "sign", gs);
	snprintf(auth, sizeof(auth), ga > 1 ? "auth-%d" : "auth", ga);

	snprintf(base, sizeof(base), "%s://%.*s:%u", jpki_serve_scheme(sv),
		 (int)(strrchr(listen, ':') - listen), listen,
		 jpki_serve_port(sv));
	printf("OpenJPKI is serving on %s (public URL in certificates: %s)\n",
	       base, jpki_ca_public_url(ca));
	if (roles & JPKI_ROLE_REPOSITORY)
		printf("  repository  %s/\n"
		       "  CA certs    %s/ca/%s.crt  %s/ca/%s.crt\n"
		       "  CRLs        %s/crl/%s.crl  %s/crl/%s.crl  "
		       "%s/crl/%s/<municipality>.crl\n",
		       base, base, sign, base, auth, base, sign, base, auth,
		       base, sign);
	if (roles & JPKI_ROLE_OCSP)
		printf("  OCSP        %s/ocsp/sign  %s/ocsp/auth\n", base,
		       base);
	if (jpki_serve_ocsp_port(sv) != 0)
		printf("  OCSP only   %s://%.*s:%u/ocsp (connections of its "
		       "own)\n",
		       jpki_serve_scheme(sv),
		       (int)(strrchr(o->ocsp_listen, ':') - o->ocsp_listen),
		       o->ocsp_listen, jpki_serve_ocsp_port(sv));
	/* not the URL: it may carry a password */
	if (o->read_store_url != NULL)
		printf("  replica     OCSP and the repository read the read "
		       "store; past %u ms of lag OCSP answers tryLater but "
		       "for revocations\n",
		       o->max_lag_ms ? o->max_lag_ms : JPKI_SERVE_MAX_LAG_MS);
	if (roles & JPKI_ROLE_LOGIN)
		printf("  log-in      %s/login (answers bound to the origin "
		       "of %s)\n",
		       base,
		       o->login_origin ? o->login_origin
				       : jpki_ca_public_url(ca));
	if (roles & JPKI_ROLE_WINDOW) {
		printf("  window      %s/window (the clerk's pages), %s/api "
		       "(JSON)\n",
		       base, base);
		/* the internal role: say how its link is authenticated */
		if (o->tls_client_ca != NULL)
			printf("              internal: a client certificate "
			       "issued by %s is required\n",
			       o->tls_client_ca);
		else if (o->tls_cert != NULL)
			printf("              internal, but HTTPS without "
			       "client certificates (--tls-client-ca): any "
			       "terminal may try the clerks' passwords\n");
		else
			printf("              internal, but plain HTTP without "
			       "client certificates (--tls-cert, --tls-key, "
			       "--tls-client-ca): keep it off shared "
			       "networks\n");
	}
	if (roles & JPKI_ROLE_PORTAL)
		printf("  portal      %s/portal (online applications; "
		       "agency certificate %s/portal/agency.crt, inbox "
		       "%s/portal/inbox)\n",
		       base, base, base);
	if (roles & JPKI_ROLE_OIDC)
		printf("  oidc        %s/.well-known/openid-configuration "
		       "(OpenID Connect: log in with the card)\n",
		       base);
	if (roles & JPKI_ROLE_KIOSK)
		printf("  kiosk       %s/kiosk (コンビニ交付: a copy of the "
		       "residence certificate or the seal registration "
		       "certificate; a terminal page, the card through the "
		       "browser bridge; a serial checks at %s/verify-document)\n",
		       base, base);
	printf("Stop with Ctrl-C.\n");
	fflush(stdout);
}

int cli_serve(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
		{"listen", required_argument, NULL, 'l'},
		{"roles", required_argument, NULL, 'r'},
		{"threads", required_argument, NULL, 't'},
		{"pid-file", required_argument, NULL, 'p'},
		{"tls-cert", required_argument, NULL, 'C'},
		{"tls-key", required_argument, NULL, 'K'},
		{"tls-client-ca", required_argument, NULL, 'A'},
		{"revocation-access", required_argument, NULL, 1007},
		{"ocsp-listen", required_argument, NULL, 'O'},
		{"ocsp-signer", required_argument, NULL, 1008},
		{"max-connections", required_argument, NULL, 'M'},
		{"ocsp-connections", required_argument, NULL, 'N'},
		{"per-address", required_argument, NULL, 'P'},
		{"header-timeout", required_argument, NULL, 'H'},
		{"body-timeout", required_argument, NULL, 'B'},
		{"login-free-failures", required_argument, NULL, 1001},
		{"login-lock-failures", required_argument, NULL, 1002},
		{"login-address-failures", required_argument, NULL, 1003},
		{"login-max-wait", required_argument, NULL, 1004},
		{"kiosk-burst", required_argument, NULL, 1005},
		{"kiosk-every", required_argument, NULL, 1006},
		{"oidc-issuer", required_argument, NULL, 1009},
		{"read-store", required_argument, NULL, 1010},
		{"max-lag-ms", required_argument, NULL, 1011},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct jpki_serve_options opts = JPKI_SERVE_OPTIONS_INIT;
	struct jpki_serve *sv = NULL;
	char *url = NULL, *issuer = NULL, *agency_key = NULL,
	     *agency_cert = NULL, *oidc_key = NULL, *oidc_secret = NULL,
	     *portal_dir = NULL;
	const char *pid_file = NULL, *ocsp_signer = NULL;
	/* the limits: config key, flag, option, the largest value taken */
	const struct {
		const char *key;
		int flag;
		unsigned *to;
		unsigned long max;
	} limits[] = {
		{"max_connections", 'M', &opts.max_connections, 65535},
		{"ocsp_connections", 'N', &opts.ocsp_connections, 65535},
		{"per_address_connections", 'P', &opts.per_address, 65535},
		{"header_timeout", 'H', &opts.header_timeout, 65535},
		{"body_timeout", 'B', &opts.body_timeout, 65535},
		{"login_free_failures", 1001, &opts.login_account_free, 1000},
		{"login_lock_failures", 1002, &opts.login_account_lock, 100000},
		{"login_address_failures", 1003, &opts.login_address_free,
		 100000},
		{"login_max_wait", 1004, &opts.login_max_wait, 86400},
		{"kiosk_burst", 1005, &opts.kiosk_burst, 100},
		{"kiosk_every", 1006, &opts.kiosk_every, 3600},
		{"max_lag_ms", 1011, &opts.max_lag_ms, 3600000},
	};
	struct sigaction sa;
	int c, r;

	opts.listen = jpki_config_get(cli->cfg, "listen", "127.0.0.1:8080");
	opts.login_origin = jpki_config_get(cli->cfg, "login_origin", NULL);
	opts.tls_cert = jpki_config_get(cli->cfg, "tls_cert", NULL);
	opts.tls_key = jpki_config_get(cli->cfg, "tls_key", NULL);
	opts.tls_client_ca = jpki_config_get(cli->cfg, "tls_client_ca", NULL);
	opts.counter_reader = jpki_config_get(cli->cfg, "window_reader", NULL);
	opts.ocsp_listen = jpki_config_get(cli->cfg, "ocsp_listen", NULL);
	if ((r = jpki_http_revocation_parse(
		 &opts.revocation_access,
		 jpki_config_get(cli->cfg, "revocation_access", "open"))) != 0)
		return cli_fail(r, "config revocation_access");
	opts.oidc_issuer = jpki_config_get(cli->cfg, "oidc_issuer", NULL);
	opts.read_store_url = jpki_config_get(cli->cfg, "read_store", NULL);
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		long v;

		if ((r = jpki_config_get_int(cli->cfg, limits[i].key, 0, &v)) !=
			    0 ||
		    v < 0 || (unsigned long)v > limits[i].max)
			return cli_usage("config %s takes 0 (the default) to "
					 "%lu",
					 limits[i].key, limits[i].max);
		*limits[i].to = (unsigned)v;
	}
	opts.roles = JPKI_ROLE_ALL;
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", o, NULL)) != -1) {
		switch (c) {
		case 'l':
			opts.listen = optarg;
			break;
		case 'r':
			if ((r = jpki_http_roles_parse(&opts.roles, optarg)) !=
			    0)
				return cli_fail(r, "--roles");
			break;
		case 't':
			opts.threads = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			pid_file = optarg;
			break;
		case 'C':
			opts.tls_cert = optarg;
			break;
		case 'K':
			opts.tls_key = optarg;
			break;
		case 'A':
			opts.tls_client_ca = optarg;
			break;
		case 'O':
			opts.ocsp_listen = optarg;
			break;
		case 'M':
		case 'N':
		case 'P':
		case 'H':
		case 'B':
		case 1001:
		case 1002:
		case 1003:
		case 1004:
		case 1005:
		case 1006:
		case 1011:
			for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]);
			     i++) {
				char *end;
				unsigned long v;

				if (limits[i].flag != c)
					continue;
				errno = 0;
				v = strtoul(optarg, &end, 10);
				if (*optarg < '1' || *optarg > '9' ||
				    *end != '\0' || errno != 0 ||
				    v > limits[i].max)
					return cli_usage("--%s takes 1 to %lu",
							 flag_name(o, c),
							 limits[i].max);
				*limits[i].to = (unsigned)v;
			}
			break;
		case 1007:
			if ((r = jpki_http_revocation_parse(
				 &opts.revocation_access, optarg)) != 0)
				return cli_fail(r, "--revocation-access");
			break;
		case 1008:
			ocsp_signer = optarg;
			break;
		case 1009:
			opts.oidc_issuer = optarg;
			break;
		case 1010:
			opts.read_store_url = optarg;
			break;
		case 'h':
			serve_usage(stdout);
			return CLI_OK;
		default:
			serve_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage("serve takes options only");
	/* a bound under the heartbeat's smallest period would read as lag
	 * all the time */
	if (opts.max_lag_ms != 0 && opts.max_lag_ms < 50)
		return cli_usage("--max-lag-ms takes 50 to 3600000");
	if (opts.max_lag_ms != 0 && opts.read_store_url == NULL)
		return cli_usage("--max-lag-ms bounds a replica's lag: it goes "
				 "with --read-store");
	if ((opts.tls_cert == NULL) != (opts.tls_key == NULL))
		return cli_usage("--tls-cert and --tls-key go together");
	if (opts.tls_client_ca != NULL && opts.tls_cert == NULL)
		return cli_usage("--tls-client-ca needs --tls-cert and "
				 "--tls-key (HTTPS)");
	if (opts.tls_client_ca != NULL && !(opts.roles & JPKI_ROLE_WINDOW) &&
	    opts.revocation_access == JPKI_REVOCATION_OPEN)
		jpki_log(JPKI_LOG_WARN,
			 "--tls-client-ca: none of these roles is internal "
			 "(window); client certificates are asked for but "
			 "not required");
	if (opts.revocation_access == JPKI_REVOCATION_REGISTERED &&
	    opts.tls_client_ca == NULL)
		return cli_usage("--revocation-access registered needs HTTPS "
				 "and the verifiers' client CA (--tls-cert, "
				 "--tls-key, --tls-client-ca)");
	if ((r = cli_ca_options(&opts.ca, cli)) != 0 ||
	    (r = cli_store_url(&url, cli)) != 0) {
		r = cli_fail(r, "configuration");
		goto out;
	}
	if (ocsp_signer != NULL &&
	    jpki_ca_ocsp_signer_parse(&opts.ca.ocsp_signer, ocsp_signer) !=
		    0) {
		r = cli_usage("--ocsp-signer takes delegated or ca");
		goto out;
	}
	if (asprintf(&issuer, "%s/keys/card-issuer.key", cli->data_dir) < 0 ||
	    asprintf(&agency_key, "%s/keys/agency.key", cli->data_dir) < 0 ||
	    asprintf(&agency_cert, "%s/keys/agency.crt", cli->data_dir) < 0 ||
	    asprintf(&oidc_key, "%s/keys/oidc.key", cli->data_dir) < 0 ||
	    asprintf(&oidc_secret, "%s/keys/oidc-subject.secret",
		     cli->data_dir) < 0 ||
	    asprintf(&portal_dir, "%s/portal", cli->data_dir) < 0) {
		r = cli_fail(JPKI_ERR_NOMEM, "serve");
		goto out;
	}
	opts.store_url = url;
	opts.card_issuer_key = issuer;
	opts.agency_key = agency_key;
	opts.agency_cert = agency_cert;
	opts.oidc_key = oidc_key;
	opts.oidc_secret = oidc_secret;
	/* the portal site's downloads and notices (docs/REGISTRY.md) */
	opts.portal_dir = jpki_config_get(cli->cfg, "portal_dir", portal_dir);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((r = jpki_serve_start(&sv, &opts)) != 0) {
		r = cli_fail(r, "serve");
		goto out;
	}
	if (!jpki_ca_keys_in_token(jpki_serve_ca(sv)))
		jpki_log(JPKI_LOG_WARN,
			 "the CA keys are files under %s/keys, for "
			 "development: a real service keeps them in a PKCS#11 "
			 "token (jpki ca init --pkcs11)",
			 cli->data_dir);
	print_urls(sv, opts.listen, &opts);
	if (pid_file != NULL) {
		char pid[32];

		snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if ((r = jpki_file_write_atomic(pid_file, pid, strlen(pid),
						0644)) != 0) {
			r = cli_fail(r, "--pid-file");
			goto out;
		}
	}
	/* The server and its periodic work run in their own threads; any
	 * of them may take the signal, so this one looks rather than
	 * pause()s. */
	while (!stopping)
		usleep(100 * 1000);
	printf("stopping\n");
	r = CLI_OK;
out:
	jpki_serve_stop(sv);
	if (pid_file != NULL)
		unlink(pid_file);
	free(url);
	free(issuer);
	free(agency_key);
	free(agency_cert);
	free(oidc_key);
	free(oidc_secret);
	free(portal_dir);
	return r;
}
