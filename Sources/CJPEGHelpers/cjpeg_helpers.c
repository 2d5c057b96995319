#include "cjpeg_helpers.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

// Last line of defence against decompression bombs; the real policy (InputLimits: pixels and side) is checked in
// Swift from cjpeg_read_header before cjpeg_decode is called.
#define CJPEG_MAX_BYTES ((size_t)1 << 31)

typedef struct {
    struct jpeg_error_mgr base;   // must be first: libjpeg hands us a jpeg_error_mgr*
    jmp_buf jump;
    int truncated;
} helper_error_mgr;

// Fatal error: keep libjpeg's message and jump back into the caller's setjmp.
static void helper_error_exit(j_common_ptr cinfo) {
    helper_error_mgr *err = (helper_error_mgr *)cinfo->err;
    longjmp(err->jump, 1);
}

// Warnings that mean the entropy-coded data is damaged or missing. libjpeg would go on and fill the rest of the
// image with guesses (a 4.5 KB file "decoding" to 680 MP of grey for 13 s); these stop the decode instead.
// Other warnings (extraneous bytes between markers, unknown JFIF revision or Adobe transform, a bad ICC marker) are
// ignored as PIL ignores them. Trace messages (level >= 0) are dropped.
static int is_corrupt_data_warning(int code) {
    switch (code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
        return 1;
    default:
        return 0;
    }
}

static void helper_emit_message(j_common_ptr cinfo, int msg_level) {
    helper_error_mgr *err = (helper_error_mgr *)cinfo->err;
    if (msg_level < 0) {
        err->base.num_warnings++;
        if (is_corrupt_data_warning(err->base.msg_code)) {
            if (err->base.msg_code == JWRN_JPEG_EOF) err->truncated = 1;
            longjmp(err->jump, 1);
        }
    }
}

static void helper_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void helper_init(struct jpeg_decompress_struct *cinfo, helper_error_mgr *err) {
    memset(cinfo, 0, sizeof(*cinfo));
    cinfo->err = jpeg_std_error(&err->base);
    err->base.error_exit = helper_error_exit;
    err->base.emit_message = helper_emit_message;
    err->base.output_message = helper_output_message;
    err->truncated = 0;
}

// Output colour space for the file's, or -1 when unsupported (CMYK / YCCK / unknown).
static int helper_output_space(struct jpeg_decompress_struct *cinfo, cjpeg_result *out) {
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo->out_color_space = JCS_GRAYSCALE;
        return 1;
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo->out_color_space = JCS_RGB;
        return 3;
    default:
        snprintf(out->message, sizeof(out->message),
                 "JPEG colour space %d (CMYK/YCCK or unknown) is not supported; convert it to RGB",
                 (int)cinfo->jpeg_color_space);
        return -1;
    }
}

int cjpeg_read_header(const unsigned char *data, size_t size, cjpeg_result *out) {
    struct jpeg_decompress_struct cinfo;
    helper_error_mgr err;

    memset(out, 0, sizeof(*out));
    helper_init(&cinfo, &err);
    if (setjmp(err.jump)) {
        (*cinfo.err->format_message)((j_common_ptr)&cinfo, out->message);
        jpeg_destroy_decompress(&cinfo);
        return err.truncated ? CJPEG_TRUNCATED : CJPEG_CORRUPT;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    const int channels = helper_output_space(&cinfo, out);
    out->width = (int)cinfo.image_width;
    out->height = (int)cinfo.image_height;
    out->channels = channels < 0 ? 0 : channels;
    out->progressive = jpeg_has_multiple_scans(&cinfo) ? 1 : 0;
    // Huffman coding spends at least one bit per 8x8 block of the first (DC) scan; that scan covers at least one
    // component, subsampled by at most 4 in each direction. Arithmetic coding has no such floor.
    if (!cinfo.arith_code) {
        const size_t bw = ((size_t)cinfo.image_width + 31) / 32, bh = ((size_t)cinfo.image_height + 31) / 32;
        out->min_data_bytes = (bw * bh) / 8;
    }
    jpeg_destroy_decompress(&cinfo);
    return channels < 0 ? CJPEG_UNSUPPORTED : CJPEG_OK;
}

int cjpeg_decode(const unsigned char *data, size_t size, cjpeg_result *out) {
    struct jpeg_decompress_struct cinfo;
    helper_error_mgr err;
    unsigned char *volatile pixels = NULL;

    memset(out, 0, sizeof(*out));
    helper_init(&cinfo, &err);

    if (setjmp(err.jump)) {
        (*cinfo.err->format_message)((j_common_ptr)&cinfo, out->message);
        if (err.truncated) {
            snprintf(out->message, sizeof(out->message), "data ends before the end of the image (truncated file)");
        }
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        out->pixels = NULL;
        return err.truncated ? CJPEG_TRUNCATED : CJPEG_CORRUPT;
    }

    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);

    if (helper_output_space(&cinfo, out) < 0) {
        jpeg_destroy_decompress(&cinfo);
        return CJPEG_UNSUPPORTED;
    }
    out->progressive = jpeg_has_multiple_scans(&cinfo) ? 1 : 0;

    jpeg_start_decompress(&cinfo);
    const size_t width = cinfo.output_width, height = cinfo.output_height;
    const size_t channels = (size_t)cinfo.output_components;
    const size_t stride = width * channels;
    if (height != 0 && stride > CJPEG_MAX_BYTES / height) {
        snprintf(out->message, sizeof(out->message), "image too large (%zux%zu)", width, height);
        jpeg_destroy_decompress(&cinfo);
        return CJPEG_NO_MEMORY;
    }
    pixels = (unsigned char *)malloc(stride * height > 0 ? stride * height : 1);
    if (pixels == NULL) {
        snprintf(out->message, sizeof(out->message), "out of memory for %zux%zu image", width, height);
        jpeg_destroy_decompress(&cinfo);
        return CJPEG_NO_MEMORY;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);

    out->width = (int)width;
    out->height = (int)height;
    out->channels = (int)channels;
    out->pixels = pixels;
    return CJPEG_OK;
}

void cjpeg_free(void *pixels) { free(pixels); }
