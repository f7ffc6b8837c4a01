/*
 * CA keys in a PKCS#11 token. The module is loaded with dlopen (no link-time
 * dependency on any vendor's library; p11-kit's header gives the types). A
 * key never leaves the token: OpenSSL gets an RSA key with only the public
 * half and an RSA_METHOD whose sign is C_Sign(CKM_RSA_PKCS) over the
 * DigestInfo built here, the technique of src/client/card_key.c. OpenSSL 3
 * routes EVP, X509, CRL and OCSP signing of such a "foreign" key through the
 * method; that interface is deprecated in 3.0 but is what OpenSSL offers
 * short of a provider, so this one file of the module asks for it.
 *
 * Threads: OCSP responses are signed from several HTTP threads at once, and
 * C_SignInit + C_Sign on one session must not interleave, so each session
 * has a mutex held across the pair.
 */
#undef OPENSSL_NO_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <p11-kit/pkcs11.h>

#include "ca/ca_pkcs11.h"
#include "jpki/profile.h"

#define PIN_MAX 256

/*
 * A loaded module. C_Initialize and C_Finalize are process-wide, so two
 * opens of one module share it and only the last close finalizes.
 */
struct p11_module {
	char *path;
	void *dl;
	CK_FUNCTION_LIST *f;
	int refs;
	struct p11_module *next;
};

static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static struct p11_module *modules;

struct ca_p11 {
	struct p11_module *mod;
	char *token;
	CK_SESSION_HANDLE session;
	pthread_mutex_t lock; /* the session's operations, and refs */
	int refs;
};

/* What an EVP_PKEY made here carries. */
struct p11_key {
	struct ca_p11 *t;
	CK_OBJECT_HANDLE handle;
};

static int ex_index = -1;
static RSA_METHOD *method;
static pthread_once_t method_once = PTHREAD_ONCE_INIT;

static const char *rv_name(CK_RV rv)
{
	switch (rv) {
	case CKR_PIN_INCORRECT:
		return "CKR_PIN_INCORRECT";
	case CKR_PIN_LOCKED:
		return "CKR_PIN_LOCKED";
	case CKR_TOKEN_NOT_PRESENT:
		return "CKR_TOKEN_NOT_PRESENT";
	case CKR_DEVICE_ERROR:
		return "CKR_DEVICE_ERROR";
	case CKR_KEY_HANDLE_INVALID:
		return "CKR_KEY_HANDLE_INVALID";
	case CKR_SESSION_HANDLE_INVALID:
		return "CKR_SESSION_HANDLE_INVALID";
	case CKR_USER_NOT_LOGGED_IN:
		return "CKR_USER_NOT_LOGGED_IN";
	case CKR_TEMPLATE_INCONSISTENT:
		return "CKR_TEMPLATE_INCONSISTENT";
	case CKR_MECHANISM_INVALID:
		return "CKR_MECHANISM_INVALID";
	}
	return "an error";
}

static void module_release(struct p11_module *m)
{
	struct p11_module **pp;

	if (m == NULL)
		return;
	pthread_mutex_lock(&modules_lock);
	if (--m->refs > 0) {
		pthread_mutex_unlock(&modules_lock);
		return;
	}
	for (pp = &modules; *pp != NULL; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	pthread_mutex_unlock(&modules_lock);
	if (m->f != NULL)
		m->f->C_Finalize(NULL);
	if (m->dl != NULL)
		dlclose(m->dl);
	free(m->path);
	free(m);
}

static int module_get(struct p11_module **out, const char *path)
{
	CK_RV (*get_list)(CK_FUNCTION_LIST **);
	CK_C_INITIALIZE_ARGS args;
	struct p11_module *m;
	CK_RV rv;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	pthread_mutex_lock(&modules_lock);
	for (m = modules; m != NULL; m = m->next)
		if (strcmp(m->path, path) == 0) {
			m->refs++;
			*out = m;
			r = 0;
			goto out;
		}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->path = strdup(path)) == NULL) {
		free(m);
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	m->refs = 1;
	if ((m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		r = jpki_err_set(JPKI_ERR_CONFIG,
				 "cannot load the PKCS#11 module %s: %s", path,
				 dlerror());
		goto fail;
	}
	*(void **)&get_list = dlsym(m->dl, "C_GetFunctionList");
	if (get_list == NULL || get_list(&m->f) != CKR_OK || m->f == NULL) {
		r = jpki_err_set(JPKI_ERR_CONFIG,
				 "%s is not a PKCS#11 module (no "
				 "C_GetFunctionList)",
				 path);
		goto fail;
	}
	/* the library's threads sign at once: let the module use OS locks */
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = m->f->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		m->f = NULL;
		r = jpki_err_set(JPKI_ERR_CRYPTO,
				 "the PKCS#11 module %s failed to initialize "
				 "(%s, 0x%lx)",
				 path, rv_name(rv), (unsigned long)rv);
		goto fail;
	}
	m->next = modules;
	modules = m;
	*out = m;
	r = 0;
	goto out;
fail:
	if (m->dl != NULL)
		dlclose(m->dl);
	free(m->path);
	free(m);
out:
	pthread_mutex_unlock(&modules_lock);
	return r;
}

/* Token labels are 32 bytes padded with spaces. */
static int label_is(const unsigned char label[32], const char *want)
{
	size_t n = strlen(want), len = 32;

	while (len > 0 && label[len - 1] == ' ')
		len--;
	return n == len && memcmp(label, want, n) == 0;
}

static int find_slot(CK_SLOT_ID *out, CK_FUNCTION_LIST *f, const char *token,
		     const char *module)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0;
	CK_TOKEN_INFO info;
	int r = JPKI_ERR_INTERNAL;

	if (f->C_GetSlotList(CK_TRUE, NULL, &n) != CKR_OK) {
		r = jpki_err_set(JPKI_ERR_CRYPTO, "cannot list the slots of %s",
				 module);
		goto out;
	}
	if (n > 0 && ((slots = calloc(n, sizeof(*slots))) == NULL)) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if (n > 0 && f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK) {
		r = jpki_err_set(JPKI_ERR_CRYPTO, "cannot list the slots of %s",
				 module);
		goto out;
	}
	for (CK_ULONG i = 0; i < n; i++)
		if (f->C_GetTokenInfo(slots[i], &info) == CKR_OK &&
		    label_is(info.label, token)) {
			*out = slots[i];
			r = 0;
			goto out;
		}
	r = jpki_err_set(JPKI_ERR_NOT_FOUND,
			 "no token labelled '%s' in the PKCS#11 module %s",
			 token, module);
out:
	free(slots);
	return r;
}

/* The PIN from a file (first line) or $JPKI_PKCS11_PIN, into `pin`. */
static int read_pin(char pin[PIN_MAX], const char *pin_file)
{
	unsigned char *data = NULL;
	size_t len = 0;
	const char *env;
	int r;

	if (pin_file != NULL) {
		if ((r = jpki_file_read(&data, &len, pin_file, PIN_MAX)) != 0)
			return r;
		while (len > 0 &&
		       (data[len - 1] == '\n' || data[len - 1] == '\r'))
			len--;
		if (len >= PIN_MAX || memchr(data, '\0', len) != NULL) {
			OPENSSL_cleanse(data, len);
			free(data);
			return jpki_err_set(JPKI_ERR_CONFIG,
					    "the PIN file %s is not one line "
					    "of text",
					    pin_file);
		}
		memcpy(pin, data, len);
		pin[len] = '\0';
		OPENSSL_cleanse(data, len);
		free(data);
		return 0;
	}
	env = getenv("JPKI_PKCS11_PIN");
	if (env == NULL || strlen(env) >= PIN_MAX)
		return jpki_err_set(JPKI_ERR_CONFIG,
				    "no PKCS#11 user PIN: set pkcs11_pin_file "
				    "in the configuration or JPKI_PKCS11_PIN");
	strcpy(pin, env);
	return 0;
}

int ca_p11_open(struct ca_p11 **out, const char *module, const char *token,
		const char *pin_file)
{
	struct ca_p11 *t = NULL;
	CK_SLOT_ID slot = 0;
	char pin[PIN_MAX];
	CK_RV rv;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	if ((r = read_pin(pin, pin_file)) != 0)
		return r;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->token = strdup(token)) == NULL) {
		free(t);
		t = NULL;
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->refs = 1;
	t->session = CK_INVALID_HANDLE;
	if ((r = module_get(&t->mod, module)) != 0 ||
	    (r = find_slot(&slot, t->mod->f, token, module)) != 0)
		goto out;
	rv = t->mod->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
				      NULL, NULL, &t->session);
	if (rv != CKR_OK) {
		t->session = CK_INVALID_HANDLE;
		r = jpki_err_set(JPKI_ERR_CRYPTO,
				 "cannot open a session on token '%s' (%s, "
				 "0x%lx)",
				 token, rv_name(rv), (unsigned long)rv);
		goto out;
	}
	rv = t->mod->f->C_Login(t->session, CKU_USER, (CK_UTF8CHAR *)pin,
				strlen(pin));
	/* another open of the same token in this process logged in already */
	if (rv == CKR_USER_ALREADY_LOGGED_IN)
		rv = CKR_OK;
	if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE) {
		r = jpki_err_set(JPKI_ERR_CONFIG,
				 "the PKCS#11 user PIN for token '%s' is wrong "
				 "(check pkcs11_pin_file or JPKI_PKCS11_PIN)",
				 token);
		goto out;
	}
	if (rv == CKR_PIN_LOCKED) {
		r = jpki_err_set(JPKI_ERR_STATE,
				 "the user PIN of token '%s' is locked", token);
		goto out;
	}
	if (rv != CKR_OK) {
		r = jpki_err_set(JPKI_ERR_CRYPTO,
				 "cannot log in to token '%s' (%s, 0x%lx)",
				 token, rv_name(rv), (unsigned long)rv);
		goto out;
	}
	*out = t;
	t = NULL;
	r = 0;
out:
	OPENSSL_cleanse(pin, sizeof(pin));
	ca_p11_free(t);
	return r;
}

void ca_p11_free(struct ca_p11 *t)
{
	int refs;

	if (t == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	refs = --t->refs;
	pthread_mutex_unlock(&t->lock);
	if (refs > 0)
		return;
	/* closing the last session logs the user out (PKCS#11 5.6) */
	if (t->mod != NULL && t->session != CK_INVALID_HANDLE)
		t->mod->f->C_CloseSession(t->session);
	module_release(t->mod);
	pthread_mutex_destroy(&t->lock);
	free(t->token);
	free(t);
}

const char *ca_p11_token(const struct ca_p11 *t)
{
	return t->token;
}

const char *ca_p11_module(const struct ca_p11 *t)
{
	return t->mod->path;
}

/* Up to `max` handles of objects labelled `label` (of `cls` unless -1). */
static int find(CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *n,
		struct ca_p11 *t, const char *label, long cls)
{
	CK_FUNCTION_LIST *f = t->mod->f;
	CK_OBJECT_CLASS c = (CK_OBJECT_CLASS)cls;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_LABEL, (void *)label, strlen(label)},
	    {CKA_CLASS, &c, sizeof(c)},
	};
	CK_RV rv;

	*n = 0;
	pthread_mutex_lock(&t->lock);
	rv = f->C_FindObjectsInit(t->session, tmpl, cls < 0 ? 1 : 2);
	if (rv == CKR_OK) {
		rv = f->C_FindObjects(t->session, out, max, n);
		f->C_FindObjectsFinal(t->session);
	}
	pthread_mutex_unlock(&t->lock);
	if (rv != CKR_OK)
		return jpki_err_set(JPKI_ERR_CRYPTO,
				    "cannot search token '%s' (%s, 0x%lx)",
				    t->token, rv_name(rv), (unsigned long)rv);
	return 0;
}

int ca_p11_absent(struct ca_p11 *t, const char *label)
{
	CK_OBJECT_HANDLE h;
	CK_ULONG n;
	int r;

	if ((r = find(&h, 1, &n, t, label, -1)) != 0)
		return r;
	if (n > 0)
		return jpki_err_set(JPKI_ERR_EXISTS,
				    "token '%s' already holds an object "
				    "labelled '%s'",
				    t->token, label);
	return 0;
}

int ca_p11_generate(struct ca_p11 *t, const char *label)
{
	CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = 2048;
	CK_BYTE exponent[] = {0x01, 0x00, 0x01};
	CK_ULONG len = strlen(label);
	CK_ATTRIBUTE pub[] = {
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &no, sizeof(no)},
	    {CKA_VERIFY, &yes, sizeof(yes)},
	    {CKA_ENCRYPT, &no, sizeof(no)},
	    {CKA_WRAP, &no, sizeof(no)},
	    {CKA_MODULUS_BITS, &bits, sizeof(bits)},
	    {CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent)},
	    {CKA_LABEL, (void *)label, len},
	    {CKA_ID, (void *)label, len},
	};
	/* The private half only signs, and never leaves the token. */
	CK_ATTRIBUTE priv[] = {
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &yes, sizeof(yes)},
	    {CKA_EXTRACTABLE, &no, sizeof(no)},
	    {CKA_SIGN, &yes, sizeof(yes)},
	    {CKA_DECRYPT, &no, sizeof(no)},
	    {CKA_UNWRAP, &no, sizeof(no)},
	    {CKA_LABEL, (void *)label, len},
	    {CKA_ID, (void *)label, len},
	};
	CK_OBJECT_HANDLE hpub, hpriv;
	CK_RV rv;

	pthread_mutex_lock(&t->lock);
	rv = t->mod->f->C_GenerateKeyPair(
	    t->session, &mech, pub, sizeof(pub) / sizeof(pub[0]), priv,
	    sizeof(priv) / sizeof(priv[0]), &hpub, &hpriv);
	pthread_mutex_unlock(&t->lock);
	if (rv != CKR_OK)
		return jpki_err_set(JPKI_ERR_CRYPTO,
				    "RSA key generation in token '%s' failed "
				    "(%s, 0x%lx)",
				    t->token, rv_name(rv), (unsigned long)rv);
	return 0;
}

void ca_p11_destroy(struct ca_p11 *t, const char *label)
{
	CK_OBJECT_HANDLE h[8];
	CK_ULONG n = 0;

	if (find(h, 8, &n, t, label, -1) != 0)
		return;
	pthread_mutex_lock(&t->lock);
	for (CK_ULONG i = 0; i < n; i++)
		t->mod->f->C_DestroyObject(t->session, h[i]);
	pthread_mutex_unlock(&t->lock);
}

static int p11_sign(int type, const unsigned char *m, unsigned int m_len,
		    unsigned char *sigret, unsigned int *siglen, const RSA *rsa)
{
	const struct p11_key *k = RSA_get_ex_data(rsa, ex_index);
	CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
	CK_ULONG len = (CK_ULONG)RSA_size(rsa);
	unsigned char *di = NULL;
	CK_FUNCTION_LIST *f;
	int di_len;
	CK_RV rv;

	if (k == NULL)
		return 0;
	if ((di_len = jpki_profile_digest_info(&di, type, m, m_len)) <= 0) {
		OPENSSL_free(di);
		jpki_err_set(JPKI_ERR_CRYPTO, "cannot build the DigestInfo");
		return 0;
	}
	f = k->t->mod->f;
	pthread_mutex_lock(&k->t->lock);
	rv = f->C_SignInit(k->t->session, &mech, k->handle);
	if (rv == CKR_OK)
		rv = f->C_Sign(k->t->session, di, (CK_ULONG)di_len, sigret,
			       &len);
	pthread_mutex_unlock(&k->t->lock);
	OPENSSL_free(di);
	if (rv != CKR_OK) {
		jpki_err_set(JPKI_ERR_CRYPTO,
			     "C_Sign in token '%s' failed (%s, 0x%lx)",
			     k->t->token, rv_name(rv), (unsigned long)rv);
		return 0;
	}
	if (len != (CK_ULONG)RSA_size(rsa)) {
		jpki_err_set(JPKI_ERR_CRYPTO,
			     "the token's signature is %lu bytes, not %d",
			     (unsigned long)len, RSA_size(rsa));
		return 0;
	}
	*siglen = (unsigned int)len;
	return 1;
}

static void free_ex(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
		    long argl, void *argp)
{
	struct p11_key *k = ptr;

	if (k == NULL)
		return;
	ca_p11_free(k->t);
	OPENSSL_free(k);
}

static void setup_once(void)
{
	RSA_METHOD *m;

	ex_index = RSA_get_ex_new_index(0, NULL, NULL, NULL, free_ex);
	if (ex_index < 0 || (m = RSA_meth_dup(RSA_PKCS1_OpenSSL())) == NULL)
		return;
	RSA_meth_set1_name(m, "JPKI PKCS#11 CA key");
	RSA_meth_set_sign(m, p11_sign);
	/* no private-key operation other than signing happens here */
	RSA_meth_set_priv_enc(m, NULL);
	RSA_meth_set_priv_dec(m, NULL);
	method = m;
}

/* A big-endian attribute of an object as a BIGNUM. */
static BIGNUM *attr_bn(struct ca_p11 *t, CK_OBJECT_HANDLE h,
		       CK_ATTRIBUTE_TYPE type)
{
	CK_ATTRIBUTE a = {type, NULL, 0};
	BIGNUM *bn = NULL;
	CK_RV rv;

	pthread_mutex_lock(&t->lock);
	rv = t->mod->f->C_GetAttributeValue(t->session, h, &a, 1);
	if (rv == CKR_OK && a.ulValueLen > 0 && a.ulValueLen <= 1024 &&
	    (a.pValue = malloc(a.ulValueLen)) != NULL) {
		rv = t->mod->f->C_GetAttributeValue(t->session, h, &a, 1);
		if (rv == CKR_OK)
			bn = BN_bin2bn(a.pValue, (int)a.ulValueLen, NULL);
		free(a.pValue);
	}
	pthread_mutex_unlock(&t->lock);
	return bn;
}

int ca_p11_key(EVP_PKEY **out, struct ca_p11 *t, const char *label)
{
	CK_OBJECT_HANDLE priv, pub;
	CK_ULONG n;
	struct p11_key *k = NULL;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	RSA *rsa = NULL;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	if ((r = find(&priv, 1, &n, t, label, CKO_PRIVATE_KEY)) != 0)
		return r;
	if (n == 0)
		return jpki_err_set(JPKI_ERR_NOT_FOUND,
				    "token '%s' holds no private key labelled "
				    "'%s'",
				    t->token, label);
	/* Some tokens do not show the public components on the private
	 * object; the public object of the same label has them. */
	if ((bn_n = attr_bn(t, priv, CKA_MODULUS)) == NULL ||
	    (bn_e = attr_bn(t, priv, CKA_PUBLIC_EXPONENT)) == NULL) {
		BN_free(bn_n);
		bn_n = NULL;
		if ((r = find(&pub, 1, &n, t, label, CKO_PUBLIC_KEY)) != 0)
			return r;
		if (n == 0 || (bn_n = attr_bn(t, pub, CKA_MODULUS)) == NULL ||
		    (bn_e = attr_bn(t, pub, CKA_PUBLIC_EXPONENT)) == NULL) {
			BN_free(bn_n);
			return jpki_err_set(JPKI_ERR_CRYPTO,
					    "cannot read the public half of "
					    "'%s' in token '%s'",
					    label, t->token);
		}
	}
	pthread_once(&method_once, setup_once);
	r = JPKI_ERR_CRYPTO;
	if (method == NULL || (rsa = RSA_new()) == NULL ||
	    (k = OPENSSL_zalloc(sizeof(*k))) == NULL ||
	    !RSA_set0_key(rsa, bn_n, bn_e, NULL))
		goto fail;
	bn_n = bn_e = NULL;
	k->handle = priv;
	k->t = t;
	if (!RSA_set_ex_data(rsa, ex_index, k))
		goto fail;
	/* the key now holds a reference: freeing it drops the reference */
	pthread_mutex_lock(&t->lock);
	t->refs++;
	pthread_mutex_unlock(&t->lock);
	k = NULL;
	if (!RSA_set_method(rsa, method) || (*out = EVP_PKEY_new()) == NULL ||
	    !EVP_PKEY_assign_RSA(*out, rsa)) {
		EVP_PKEY_free(*out);
		*out = NULL;
		goto fail;
	}
	return 0;
fail:
	ERR_clear_error();
	BN_free(bn_n);
	BN_free(bn_e);
	OPENSSL_free(k);
	RSA_free(rsa);
	return jpki_err_set(r, "cannot make an OpenSSL key of '%s'", label);
}

/* RFC 3986 unreserved characters pass; everything else is %XX. */
static int uri_put(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c) != NULL) {
			if (fputc(c, f) == EOF)
				return -1;
		} else if (fprintf(f, "%%%02X", c) < 0) {
			return -1;
		}
	}
	return 0;
}

char *ca_p11_uri(const char *token, const char *object)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int ok;

	if (f == NULL)
		return NULL;
	ok = fputs("pkcs11:token=", f) >= 0 && uri_put(f, token) == 0 &&
	     fputs(";object=", f) >= 0 && uri_put(f, object) == 0;
	if (fclose(f) != 0 || !ok) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes one attribute value of `len` bytes at `s`. */
static char *uri_get(const char *s, size_t len)
{
	char *out = malloc(len + 1), *p = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%') {
			*p++ = s[i];
			continue;
		}
		if (len - i < 3 || hexval(s[i + 1]) < 0 ||
		    hexval(s[i + 2]) < 0 ||
		    (hexval(s[i + 1]) == 0 && hexval(s[i + 2]) == 0)) {
			free(out);
			return NULL;
		}
		*p++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
		i += 2;
	}
	*p = '\0';
	return out;
}

int ca_p11_uri_parse(char **token, char **object, const char *uri)
{
	const char *p;

	*token = NULL;
	*object = NULL;
	if (strncmp(uri, "pkcs11:", 7) != 0)
		goto bad;
	p = uri + 7;
	while (*p != '\0') {
		size_t len = strcspn(p, ";");
		char **dst = NULL;
		size_t skip = 0;

		if (strncmp(p, "token=", 6) == 0) {
			dst = token;
			skip = 6;
		} else if (strncmp(p, "object=", 7) == 0) {
			dst = object;
			skip = 7;
		}
		if (dst != NULL) {
			free(*dst);
			if ((*dst = uri_get(p + skip, len - skip)) == NULL)
				goto bad;
		}
		p += len;
		if (*p == ';')
			p++;
	}
	if (*token != NULL && *object != NULL && **token != '\0' &&
	    **object != '\0')
		return 0;
bad:
	free(*token);
	free(*object);
	*token = NULL;
	*object = NULL;
	return jpki_err_set(JPKI_ERR_STORE,
			    "'%s' is not a pkcs11:token=...;object=... key "
			    "reference",
			    uri);
}
