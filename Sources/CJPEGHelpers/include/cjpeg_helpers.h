// Tiny C helper around libjpeg-turbo's decompressor.
//
// libjpeg reports fatal errors through `error_exit`, which must not return; the only safe way to
// recover is setjmp/longjmp, which Swift cannot express. This helper owns the setjmp and turns every
// libjpeg failure into a status code plus message, so ImageIO can throw an error naming the file.
#ifndef CJPEG_HELPERS_H
#define CJPEG_HELPERS_H

#include <stddef.h>

#define CJPEG_OK 0
#define CJPEG_CORRUPT 1       // libjpeg fatal error; message says why
#define CJPEG_TRUNCATED 2     // data ended before the end of the scan
#define CJPEG_UNSUPPORTED 3   // colour space other than gray / YCbCr / RGB (CMYK, YCCK)
#define CJPEG_NO_MEMORY 4

typedef struct {
    int width;
    int height;
    int channels;             // 1 (gray) or 3 (RGB)
    int progressive;          // 1 when the file is progressive
    unsigned char *pixels;    // height*width*channels bytes, HWC; free with cjpeg_free
    size_t min_data_bytes;    // cjpeg_read_header: fewest bytes of scan data such a file can have (0 = no bound)
    char message[200];
} cjpeg_result;

/// Decodes a JPEG held in memory to 8-bit gray or RGB (JDCT_ISLOW, fancy upsampling: libjpeg's
/// defaults, as PIL uses them). Damaged entropy-coded data (bad Huffman code, premature end of a segment or of
/// the file, bad progression) stops the decode with CJPEG_CORRUPT / CJPEG_TRUNCATED instead of being guessed.
/// Returns CJPEG_OK or one of the error codes above with `message` set.
int cjpeg_decode(const unsigned char *data, size_t size, cjpeg_result *out);

/// Reads only the header (up to the first scan): width, height, output channels, progressive flag and
/// min_data_bytes; allocates nothing for pixels. Returns CJPEG_OK, CJPEG_UNSUPPORTED (colour space; size still set),
/// or CJPEG_CORRUPT / CJPEG_TRUNCATED with `message` set.
int cjpeg_read_header(const unsigned char *data, size_t size, cjpeg_result *out);

/// Frees `pixels` from a successful cjpeg_decode.
void cjpeg_free(void *pixels);

#endif
