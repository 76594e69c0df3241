<?php
/**
 * A stand-in for WordPress and Contact Form 7, just large enough to run the optin plugin under php-cli.
 *
 * Usage: php harness.php '<scenario JSON>'
 *
 * Scenario keys:
 *   state       path of a JSON file holding options, transients and WP-Cron events between runs
 *   settings    optional optin_settings to store before the plugin loads
 *   options     optional options to store before the plugin loads (e.g. admin_email)
 *   action      submit | cron | shortcode | render_tag | test_connection | settings_page | sanitize
 *               | activate | deactivate | uninstall | dashboard | dismiss | tag_generator
 *   submit:     status, posted_data (object), posted_data_hash, meta {remote_ip, user_agent, url},
 *               form_tags (tags in the form: a type, or {type, values, labels}; default
 *               text*, email*, textarea, optin_checkbox),
 *               keep_hash (pass posted_data_hash even where Contact Form 7 would blank it)
 *   dashboard:  admin_notices on any admin page;  dismiss: the "dropped" notice's button
 *   tag_generator: Contact Form 7's form editor adds the tag generators and prints their dialogs
 *   cron:       advance (seconds the clock is moved on: due events run)
 *   shortcode:  atts;  render_tag: values, labels;  sanitize: input
 *   test_connection: can (bool, default true), nonce_ok (bool, default true)
 *
 * Prints one JSON object: requests (every wp_remote_post, with its answer), results (each forwarding
 * result the plugin reported), forwarded (whether any submission reached the service), cron (events
 * still scheduled), options, output, redirect, died, mails (every wp_mail), generators (tag generators).
 *
 * HTTP goes only to loopback addresses.
 */

// phpcs:disable -- a test harness, not plugin code.

error_reporting( E_ALL );
ini_set( 'display_errors', 'stderr' );
set_error_handler(
	function ( $severity, $message, $file, $line ) {
		throw new ErrorException( $message, 0, $severity, $file, $line );
	}
);

define( 'ABSPATH', __DIR__ . '/' );
define( 'MINUTE_IN_SECONDS', 60 );
define( 'PLUGIN_DIR', dirname( __DIR__, 2 ) . '/deploy/wordpress/optin' );

$scenario = json_decode( isset( $argv[1] ) ? $argv[1] : '', true );
if ( ! is_array( $scenario ) || empty( $scenario['state'] ) || empty( $scenario['action'] ) ) {
	fwrite( STDERR, "usage: php harness.php '{\"state\": \"/tmp/state.json\", \"action\": \"submit\", ...}'\n" );
	exit( 2 );
}

$GLOBALS['h'] = array(
	'hooks'      => array(),
	'shortcodes' => array(),
	'form_tags'  => array(),
	'requests'   => array(),
	'results'    => array(),
	'output'     => null,
	'redirect'   => null,
	'died'       => null,
	'admin'      => in_array( $scenario['action'], array( 'test_connection', 'settings_page', 'sanitize', 'dashboard', 'dismiss', 'tag_generator' ), true ),
	'mails'      => array(),
	'generators' => array(),
	'can'        => ! isset( $scenario['can'] ) || $scenario['can'],
	'nonce_ok'   => ! isset( $scenario['nonce_ok'] ) || $scenario['nonce_ok'],
	'pages'      => array(),
	'settings'   => array(),
	'fields'     => array(),
	'errors'     => array(),
	'state_file' => $scenario['state'],
	'state'      => array(
		'options'    => array(),
		'transients' => array(),
		'cron'       => array(),
	),
);
if ( is_file( $scenario['state'] ) ) {
	$GLOBALS['h']['state'] = json_decode( file_get_contents( $scenario['state'] ), true );
}

register_shutdown_function(
	function () {
		$h = $GLOBALS['h'];
		file_put_contents( $h['state_file'], json_encode( $h['state'], JSON_PRETTY_PRINT ) );
		$forwarded = false;
		foreach ( $h['requests'] as $request ) {
			$forwarded = $forwarded || ( 202 === $request['code'] );
		}
		echo json_encode(
			array(
				'requests'  => $h['requests'],
				'results'   => $h['results'],
				'forwarded' => $forwarded,
				'cron'      => $h['state']['cron'],
				'options'   => (object) $h['state']['options'],
				'output'    => $h['output'],
				'redirect'  => $h['redirect'],
				'died'      => $h['died'],
				'errors'    => $h['errors'],
				'mails'     => $h['mails'],
				'generators' => $h['generators'],
			)
		), "\n";
	}
);

/* ---- hooks ---------------------------------------------------------------------------------- */

function add_action( $hook, $callback, $priority = 10, $accepted_args = 1 ) {
	$GLOBALS['h']['hooks'][ $hook ][ $priority ][] = array( $callback, $accepted_args );
	return true;
}

function add_filter( $hook, $callback, $priority = 10, $accepted_args = 1 ) {
	return add_action( $hook, $callback, $priority, $accepted_args );
}

function apply_filters( $hook, $value, ...$args ) {
	$registered = isset( $GLOBALS['h']['hooks'][ $hook ] ) ? $GLOBALS['h']['hooks'][ $hook ] : array();
	ksort( $registered );
	foreach ( $registered as $callbacks ) {
		foreach ( $callbacks as $entry ) {
			$value = call_user_func_array( $entry[0], array_slice( array_merge( array( $value ), $args ), 0, $entry[1] ) );
		}
	}
	return $value;
}

function do_action( $hook, ...$args ) {
	$registered = isset( $GLOBALS['h']['hooks'][ $hook ] ) ? $GLOBALS['h']['hooks'][ $hook ] : array();
	ksort( $registered );
	foreach ( $registered as $callbacks ) {
		foreach ( $callbacks as $entry ) {
			call_user_func_array( $entry[0], array_slice( $args, 0, $entry[1] ) );
		}
	}
}

function has_action( $hook ) {
	return ! empty( $GLOBALS['h']['hooks'][ $hook ] );
}

function register_activation_hook( $file, $callback ) {
	add_action( 'activate_optin', $callback );
}

function register_deactivation_hook( $file, $callback ) {
	add_action( 'deactivate_optin', $callback );
}

function add_shortcode( $tag, $callback ) {
	$GLOBALS['h']['shortcodes'][ $tag ] = $callback;
}

function shortcode_atts( $pairs, $atts, $shortcode = '' ) {
	$atts = (array) $atts;
	$out  = array();
	foreach ( $pairs as $name => $default ) {
		$out[ $name ] = array_key_exists( $name, $atts ) ? $atts[ $name ] : $default;
	}
	return $out;
}

function is_admin() {
	return $GLOBALS['h']['admin'];
}

function is_multisite() {
	return false;
}

/* ---- options and transients ----------------------------------------------------------------- */

function get_option( $name, $default = false ) {
	$options = $GLOBALS['h']['state']['options'];
	return array_key_exists( $name, $options ) ? $options[ $name ] : $default;
}

function update_option( $name, $value, $autoload = null ) {
	$GLOBALS['h']['state']['options'][ $name ] = json_decode( json_encode( $value ), true );
	return true;
}

function delete_option( $name ) {
	unset( $GLOBALS['h']['state']['options'][ $name ] );
	return true;
}

function set_transient( $name, $value, $expiration = 0 ) {
	$GLOBALS['h']['state']['transients'][ $name ] = $value;
	return true;
}

function get_transient( $name ) {
	return isset( $GLOBALS['h']['state']['transients'][ $name ] ) ? $GLOBALS['h']['state']['transients'][ $name ] : false;
}

function delete_transient( $name ) {
	unset( $GLOBALS['h']['state']['transients'][ $name ] );
	return true;
}

/* ---- WP-Cron ------------------------------------------------------------------------------- */

function wp_schedule_single_event( $timestamp, $hook, $args = array() ) {
	$GLOBALS['h']['state']['cron'][] = array(
		'timestamp' => (int) $timestamp,
		'hook'      => $hook,
		'args'      => array_values( $args ),
	);
	return true;
}

function wp_next_scheduled( $hook, $args = array() ) {
	foreach ( $GLOBALS['h']['state']['cron'] as $event ) {
		if ( $event['hook'] === $hook && $event['args'] === array_values( $args ) ) {
			return $event['timestamp'];
		}
	}
	return false;
}

function wp_clear_scheduled_hook( $hook, $args = array() ) {
	$before                          = count( $GLOBALS['h']['state']['cron'] );
	$GLOBALS['h']['state']['cron'] = array_values(
		array_filter(
			$GLOBALS['h']['state']['cron'],
			function ( $event ) use ( $hook, $args ) {
				return ! ( $event['hook'] === $hook && $event['args'] === array_values( $args ) );
			}
		)
	);
	return $before - count( $GLOBALS['h']['state']['cron'] );
}

function wp_unschedule_hook( $hook ) {
	$GLOBALS['h']['state']['cron'] = array_values(
		array_filter(
			$GLOBALS['h']['state']['cron'],
			function ( $event ) use ( $hook ) {
				return $event['hook'] !== $hook;
			}
		)
	);
	return true;
}

/* ---- HTTP --------------------------------------------------------------------------------- */

class WP_Error {
	private $code;
	private $message;

	public function __construct( $code = '', $message = '' ) {
		$this->code    = $code;
		$this->message = $message;
	}

	public function get_error_message() {
		return $this->message;
	}

	public function get_error_code() {
		return $this->code;
	}
}

function is_wp_error( $thing ) {
	return $thing instanceof WP_Error;
}

function wp_remote_post( $url, $args = array() ) {
	$record = array(
		'url'     => $url,
		'headers' => isset( $args['headers'] ) ? $args['headers'] : array(),
		'body'    => isset( $args['body'] ) ? $args['body'] : '',
		'timeout' => isset( $args['timeout'] ) ? $args['timeout'] : 5,
		'code'    => 0,
		'answer'  => null,
		'error'   => null,
	);
	$host = parse_url( $url, PHP_URL_HOST );
	if ( ! in_array( $host, array( '127.0.0.1', 'localhost', '[::1]' ), true ) ) {
		$record['error']               = 'the harness only sends to loopback addresses';
		$GLOBALS['h']['requests'][] = $record;
		return new WP_Error( 'http_request_failed', $record['error'] );
	}
	$lines = array();
	foreach ( $record['headers'] as $name => $value ) {
		$lines[] = $name . ': ' . $value;
	}
	$context = stream_context_create(
		array(
			'http' => array(
				'method'          => 'POST',
				'header'          => implode( "\r\n", $lines ),
				'content'         => $record['body'],
				'timeout'         => (float) $record['timeout'],
				'ignore_errors'   => true,
				'follow_location' => 0,
			),
		)
	);
	try {
		$body = file_get_contents( $url, false, $context );
	} catch ( ErrorException $e ) {
		$body = false;
		$record['error'] = $e->getMessage();
	}
	if ( false === $body ) {
		$GLOBALS['h']['requests'][] = $record;
		return new WP_Error( 'http_request_failed', (string) $record['error'] );
	}
	$status = isset( $http_response_header[0] ) ? $http_response_header[0] : '';
	preg_match( '#^HTTP/\S+\s+(\d{3})#', $status, $match );
	$record['code']             = isset( $match[1] ) ? (int) $match[1] : 0;
	$record['answer']           = $body;
	$GLOBALS['h']['requests'][] = $record;
	return array(
		'response' => array( 'code' => $record['code'] ),
		'body'     => $body,
	);
}

function wp_remote_retrieve_response_code( $response ) {
	return is_array( $response ) ? $response['response']['code'] : '';
}

function wp_remote_retrieve_body( $response ) {
	return is_array( $response ) ? $response['body'] : '';
}

function wp_json_encode( $data ) {
	return json_encode( $data, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
}

/* ---- escaping, sanitizing, i18n ---------------------------------------------------------- */

function esc_attr( $text ) {
	return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' );
}

function esc_html( $text ) {
	return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' );
}

function esc_url_raw( $url, $protocols = array( 'http', 'https' ) ) {
	$url    = trim( (string) $url );
	$scheme = strtolower( (string) parse_url( $url, PHP_URL_SCHEME ) );
	if ( ! in_array( $scheme, $protocols, true ) || preg_match( '/[\s"\'<>]/', $url ) ) {
		return '';
	}
	return $url;
}

function esc_url( $url, $protocols = array( 'http', 'https' ) ) {
	return esc_attr( esc_url_raw( $url, $protocols ) );
}

function sanitize_text_field( $text ) {
	return trim( preg_replace( '/[\r\n\t ]+/', ' ', strip_tags( (string) $text ) ) );
}

function untrailingslashit( $text ) {
	return rtrim( (string) $text, '/\\' );
}

function __( $text, $domain = 'default' ) {
	return $text;
}

function esc_html__( $text, $domain = 'default' ) {
	return esc_html( $text );
}

function esc_attr__( $text, $domain = 'default' ) {
	return esc_attr( $text );
}

function wp_strip_all_tags( $text ) {
	return trim( strip_tags( (string) $text ) );
}

function wp_mail( $to, $subject, $message, $headers = '' ) {
	$GLOBALS['h']['mails'][] = array(
		'to'      => $to,
		'subject' => $subject,
		'message' => $message,
	);
	return true;
}

function _n( $single, $plural, $number, $domain = 'default' ) {
	return 1 === (int) $number ? $single : $plural;
}

function wp_date( $format, $timestamp = null ) {
	return gmdate( $format, null === $timestamp ? time() : $timestamp );
}

/* ---- admin ------------------------------------------------------------------------------- */

function current_user_can( $capability ) {
	return $GLOBALS['h']['can'];
}

function get_current_user_id() {
	return 1;
}

function check_admin_referer( $action ) {
	if ( ! $GLOBALS['h']['nonce_ok'] ) {
		wp_die( 'The link you followed has expired.', '', array( 'response' => 403 ) );
	}
	return 1;
}

function wp_die( $message = '', $title = '', $args = array() ) {
	$GLOBALS['h']['died'] = array(
		'message' => $message,
		'status'  => isset( $args['response'] ) ? $args['response'] : 500,
	);
	exit( 0 );
}

function wp_safe_redirect( $location ) {
	$GLOBALS['h']['redirect'] = $location;
	return true;
}

function admin_url( $path = '' ) {
	return 'http://wp.test/wp-admin/' . ltrim( $path, '/' );
}

function add_query_arg( $key, $value, $url ) {
	return $url . ( false === strpos( $url, '?' ) ? '?' : '&' ) . rawurlencode( $key ) . '=' . rawurlencode( $value );
}

function add_options_page( $page_title, $menu_title, $capability, $slug, $callback ) {
	$GLOBALS['h']['pages'][ $slug ] = array( $page_title, $callback );
	return 'settings_page_' . $slug;
}

function get_admin_page_title() {
	return 'Optin';
}

function register_setting( $group, $name, $args = array() ) {
	$GLOBALS['h']['settings'][ $name ] = $args;
}

function add_settings_section( $id, $title, $callback, $page ) {
	$GLOBALS['h']['fields'][] = array( 'section', $title, $callback );
}

function add_settings_field( $id, $title, $callback, $page, $section = 'default', $args = array() ) {
	$GLOBALS['h']['fields'][] = array( 'field', $title, $callback );
}

function add_settings_error( $setting, $code, $message, $type = 'error' ) {
	$GLOBALS['h']['errors'][] = $message;
}

function settings_errors( $setting = '' ) {
	foreach ( $GLOBALS['h']['errors'] as $message ) {
		echo '<div class="notice notice-error"><p>' . esc_html( $message ) . '</p></div>';
	}
}

function settings_fields( $group ) {
	echo '<input type="hidden" name="option_page" value="' . esc_attr( $group ) . '" />';
	wp_nonce_field( $group . '-options' );
}

function do_settings_sections( $page ) {
	foreach ( $GLOBALS['h']['fields'] as $item ) {
		echo '<h2>' . esc_html( $item[1] ) . '</h2>';
		call_user_func( $item[2] );
	}
}

function submit_button( $text = 'Save Changes', $type = 'primary', $name = 'submit', $wrap = true ) {
	echo '<input type="submit" name="' . esc_attr( $name ) . '" class="button button-' . esc_attr( $type ) . '" value="' . esc_attr( $text ) . '" />';
}

function wp_nonce_field( $action = -1 ) {
	echo '<input type="hidden" name="_wpnonce" value="' . esc_attr( substr( hash( 'sha256', (string) $action ), 0, 10 ) ) . '" />';
}

/* ---- Contact Form 7 ------------------------------------------------------------------------ */

function wpcf7_add_form_tag( $types, $callback, $features = '' ) {
	foreach ( (array) $types as $type ) {
		$GLOBALS['h']['form_tags'][ $type ] = $callback;
	}
	return true;
}

class WPCF7_FormTag {
	public $type;
	public $basetype;
	public $name    = '';
	public $options = array();
	public $values  = array();
	public $labels  = array();

	public function __construct( array $tag ) {
		foreach ( $tag as $key => $value ) {
			$this->$key = $value;
		}
		$this->basetype = rtrim( (string) $this->type, '*' );
	}

	public function get_class_option( $default = '' ) {
		return $default;
	}

	public function get_id_option() {
		return false;
	}
}

class WPCF7_ContactForm {
	private $tags;

	public function __construct( array $tag_types ) {
		$this->tags = array();
		foreach ( $tag_types as $type ) {
			$this->tags[] = new WPCF7_FormTag( is_array( $type ) ? $type : array( 'type' => $type ) );
		}
	}

	public function id() {
		return 7;
	}

	public function scan_form_tags( $cond = null ) {
		$types = ( is_array( $cond ) && isset( $cond['type'] ) ) ? (array) $cond['type'] : null;
		return array_values(
			array_filter(
				$this->tags,
				function ( $tag ) use ( $types ) {
					return null === $types || in_array( $tag->type, $types, true );
				}
			)
		);
	}
}

class WPCF7_Submission {
	public static $instance = null;
	private $status;
	private $posted_data;
	private $hash;
	private $meta;

	public function __construct( $status, array $posted_data, $hash, array $meta ) {
		$this->status      = $status;
		$this->posted_data = $posted_data;
		$this->hash        = $hash;
		$this->meta        = $meta;
	}

	public static function get_instance( $contact_form = null, $args = '' ) {
		return self::$instance;
	}

	public function get_status() {
		return $this->status;
	}

	public function is( $status ) {
		return $this->status === $status;
	}

	public function get_posted_data( $name = '' ) {
		if ( '' !== $name ) {
			return isset( $this->posted_data[ $name ] ) ? $this->posted_data[ $name ] : null;
		}
		return $this->posted_data;
	}

	public function get_posted_data_hash() {
		return $this->hash;
	}

	public function get_meta( $name ) {
		return isset( $this->meta[ $name ] ) ? $this->meta[ $name ] : null;
	}
}

class WPCF7_TagGenerator {
	private static $instance;
	public $panels = array();

	public static function get_instance() {
		if ( empty( self::$instance ) ) {
			self::$instance = new self();
		}
		return self::$instance;
	}

	public function add( $id, $title, $callback, $options = '' ) {
		$this->panels[ $id ] = array( $title, $callback, (array) $options );
		return true;
	}
}

/* ---- the scenario ------------------------------------------------------------------------ */

if ( isset( $scenario['settings'] ) ) {
	update_option( 'optin_settings', $scenario['settings'] );
}
foreach ( isset( $scenario['options'] ) ? $scenario['options'] : array() as $name => $value ) {
	update_option( $name, $value );
}

if ( 'uninstall' === $scenario['action'] ) {
	define( 'WP_UNINSTALL_PLUGIN', 'optin/optin.php' );
	require PLUGIN_DIR . '/uninstall.php';
	exit( 0 );
}

require PLUGIN_DIR . '/optin.php';
do_action( 'plugins_loaded' );
do_action( 'wpcf7_init' );
add_action(
	'optin_forward_result',
	function ( $result ) {
		$GLOBALS['h']['results'][] = $result;
	}
);

switch ( $scenario['action'] ) {
	case 'submit':
		$status = isset( $scenario['status'] ) ? $scenario['status'] : 'mail_sent';
		$hash   = isset( $scenario['posted_data_hash'] ) ? $scenario['posted_data_hash'] : '';
		$form   = new WPCF7_ContactForm( isset( $scenario['form_tags'] ) ? $scenario['form_tags'] : array( 'text*', 'email*', 'textarea', 'optin_checkbox' ) );
		WPCF7_Submission::$instance = new WPCF7_Submission(
			$status,
			isset( $scenario['posted_data'] ) ? $scenario['posted_data'] : array(),
			$hash,
			isset( $scenario['meta'] ) ? $scenario['meta'] : array()
		);
		// What WPCF7_ContactForm::submit() passes to wpcf7_submit.
		$result = array(
			'contact_form_id' => $form->id(),
			'status'          => $status,
			'message'         => '',
			'demo_mode'       => false,
		);
		$blank = in_array( $status, array( 'init', 'validation_failed', 'acceptance_missing', 'spam' ), true );
		$result['posted_data_hash'] = ( $blank && empty( $scenario['keep_hash'] ) ) ? '' : $hash;
		do_action( 'wpcf7_submit', $form, $result );
		break;

	case 'cron':
		$now = time() + ( isset( $scenario['advance'] ) ? (int) $scenario['advance'] : 0 );
		$due = array();
		foreach ( $GLOBALS['h']['state']['cron'] as $event ) {
			if ( $event['timestamp'] <= $now ) {
				$due[] = $event;
			}
		}
		// WP-Cron unschedules an event before running it.
		foreach ( $due as $event ) {
			$GLOBALS['h']['state']['cron'] = array_values(
				array_filter(
					$GLOBALS['h']['state']['cron'],
					function ( $other ) use ( $event ) {
						return $other !== $event;
					}
				)
			);
			do_action( $event['hook'], ...$event['args'] );
		}
		break;

	case 'shortcode':
		$GLOBALS['h']['output'] = call_user_func( $GLOBALS['h']['shortcodes']['optin_form'], isset( $scenario['atts'] ) ? $scenario['atts'] : '' );
		break;

	case 'render_tag':
		$tag = new WPCF7_FormTag(
			array(
				'type'   => 'optin_checkbox',
				'values' => isset( $scenario['values'] ) ? $scenario['values'] : array(),
				'labels' => isset( $scenario['labels'] ) ? $scenario['labels'] : array(),
			)
		);
		$GLOBALS['h']['output'] = call_user_func( $GLOBALS['h']['form_tags']['optin_checkbox'], $tag );
		break;

	case 'test_connection':
		do_action( 'admin_post_optin_test_connection' );
		break;

	case 'settings_page':
		do_action( 'admin_menu' );
		do_action( 'admin_init' );
		$_GET['optin-tested'] = '1';
		ob_start();
		call_user_func( $GLOBALS['h']['pages']['optin'][1] );
		$GLOBALS['h']['output'] = ob_get_clean();
		break;

	case 'sanitize':
		do_action( 'admin_init' );
		$clean = call_user_func( $GLOBALS['h']['settings']['optin_settings']['sanitize_callback'], $scenario['input'] );
		update_option( 'optin_settings', $clean );
		break;

	case 'activate':
		do_action( 'activate_optin' );
		break;

	case 'dashboard':
		ob_start();
		do_action( 'admin_notices' );
		$GLOBALS['h']['output'] = ob_get_clean();
		break;

	case 'dismiss':
		do_action( 'admin_post_optin_dismiss_dropped' );
		break;

	case 'tag_generator':
		do_action( 'wpcf7_admin_init' );
		ob_start();
		// What WPCF7_TagGenerator::print_panels() does for each: a dialog holding a form around the callback.
		foreach ( WPCF7_TagGenerator::get_instance()->panels as $id => $panel ) {
			$options = array_merge( $panel[2], array( 'id' => $id, 'title' => $panel[0], 'content' => 'tag-generator-panel-' . $id ) );
			$GLOBALS['h']['generators'][ $id ] = array( 'title' => $panel[0], 'version' => isset( $panel[2]['version'] ) ? $panel[2]['version'] : '1' );
			echo '<dialog id="' . esc_attr( $options['content'] ) . '"><form method="dialog" class="tag-generator-panel" data-id="' . esc_attr( $id ) . '">';
			call_user_func( $panel[1], new WPCF7_ContactForm( array() ), $options );
			echo '</form></dialog>';
		}
		$GLOBALS['h']['output'] = ob_get_clean();
		break;

	case 'deactivate':
		do_action( 'deactivate_optin' );
		break;

	default:
		fwrite( STDERR, 'unknown action ' . $scenario['action'] . "\n" );
		exit( 2 );
}
