<?php
/**
 * The settings page (Settings → Optin) and its "test connection" button.
 *
 * @package Optin
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Settings API registration, the page, and the admin-post handler of the connection test.
 */
class Optin_Admin {

	/**
	 * Menu slug and settings group.
	 */
	const PAGE = 'optin';

	/**
	 * The admin-post action (and nonce action) of the connection test.
	 */
	const TEST_ACTION = 'optin_test_connection';

	/**
	 * Capability needed to see and change the settings.
	 */
	const CAPABILITY = 'manage_options';

	/**
	 * The admin-post action (and nonce action) that dismisses the "dropped" notice.
	 */
	const DISMISS_ACTION = 'optin_dismiss_dropped';

	/**
	 * The plugin.
	 *
	 * @var Optin_Plugin
	 */
	private $plugin;

	/**
	 * Constructor.
	 *
	 * @param Optin_Plugin $plugin The plugin.
	 */
	public function __construct( Optin_Plugin $plugin ) {
		$this->plugin = $plugin;
	}

	/**
	 * Add the admin hooks.
	 */
	public function register() {
		add_action( 'admin_menu', array( $this, 'add_page' ) );
		add_action( 'admin_init', array( $this, 'register_settings' ) );
		add_action( 'admin_post_' . self::TEST_ACTION, array( $this, 'test_connection' ) );
		add_action( 'admin_post_' . self::DISMISS_ACTION, array( $this, 'dismiss_dropped' ) );
		add_action( 'admin_notices', array( $this, 'notices' ) );
		add_action( 'wpcf7_admin_init', array( $this, 'add_tag_generator' ), 60 );
	}

	/**
	 * On every admin page, for those who can act on it: submissions waiting for a retry, and those dropped.
	 */
	public function notices() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			return;
		}
		$settings = '<a href="' . esc_url( admin_url( 'options-general.php?page=' . self::PAGE ) ) . '">' . esc_html__( 'Settings → Optin', 'optin' ) . '</a>';
		$pending  = count( $this->plugin->pending() );
		$problem  = get_option( Optin_Plugin::PROBLEM_OPTION );
		if ( $pending > 0 ) {
			$said = is_array( $problem ) && isset( $problem['message'] ) ? ' ' . sprintf(
				/* translators: %s: what went wrong, in words. */
				__( 'Last problem: %s.', 'optin' ),
				(string) $problem['message']
			) : '';
			printf(
				'<div class="notice notice-warning"><p><strong>%1$s</strong> %2$s%3$s %4$s</p></div>',
				esc_html__( 'Optin:', 'optin' ),
				esc_html(
					sprintf(
						/* translators: %d: number of submissions waiting. */
						_n(
							'%d contact-form signup is waiting to be forwarded to the optin service; it is retried automatically.',
							'%d contact-form signups are waiting to be forwarded to the optin service; they are retried automatically.',
							$pending,
							'optin'
						),
						$pending
					)
				),
				esc_html( $said ),
				$settings // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- escaped above.
			);
		}
		$dropped = $this->plugin->dropped_record();
		if ( $dropped['count'] > 0 ) {
			printf(
				'<div class="notice notice-error"><p><strong>%1$s</strong> %2$s %3$s %4$s</p><form method="post" action="%5$s"><input type="hidden" name="action" value="%6$s" />',
				esc_html__( 'Optin:', 'optin' ),
				esc_html(
					sprintf(
						/* translators: 1: number of submissions dropped, 2: date and time. */
						_n(
							'%1$d contact-form signup could not be forwarded after its last retry and was dropped (since %2$s): that person is not subscribed.',
							'%1$d contact-form signups could not be forwarded after their last retry and were dropped (since %2$s): those people are not subscribed.',
							$dropped['count'],
							'optin'
						),
						$dropped['count'],
						wp_date( 'Y-m-d H:i', $dropped['since'] )
					)
				),
				esc_html(
					sprintf(
						/* translators: %s: what went wrong, in words. */
						__( 'Last problem: %s.', 'optin' ),
						$dropped['message']
					)
				),
				$settings, // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- escaped above.
				esc_url( admin_url( 'admin-post.php' ) ),
				esc_attr( self::DISMISS_ACTION )
			);
			wp_nonce_field( self::DISMISS_ACTION );
			submit_button( __( 'Dismiss', 'optin' ), 'secondary small', 'submit', false );
			echo '</form></div>';
		}
	}

	/**
	 * Admin-post handler of the notice's "Dismiss": the owner has seen the dropped submissions.
	 */
	public function dismiss_dropped() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to change the Optin settings.', 'optin' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( self::DISMISS_ACTION );
		delete_option( Optin_Plugin::DROPPED_OPTION );
		wp_safe_redirect( admin_url( 'options-general.php?page=' . self::PAGE ) );
		exit;
	}

	/**
	 * A button in Contact Form 7's form editor that inserts [optin_checkbox "…"] (tag generator, version 2).
	 */
	public function add_tag_generator() {
		if ( class_exists( 'WPCF7_TagGenerator' ) ) {
			WPCF7_TagGenerator::get_instance()->add(
				Optin_Plugin::FORM_TAG,
				__( 'optin checkbox', 'optin' ),
				array( $this, 'render_tag_generator' ),
				array( 'version' => '2' )
			);
		}
	}

	/**
	 * The tag generator's dialog: the checkbox's label (the consent text the service records), id and class.
	 *
	 * @param object $contact_form The WPCF7_ContactForm being edited.
	 * @param array  $options      Keys id, title, content (the dialog's id), version.
	 */
	public function render_tag_generator( $contact_form, $options = array() ) {
		$ref = isset( $options['content'] ) ? preg_replace( '/[^0-9a-z-]/', '', strtolower( (string) $options['content'] ) ) : 'optin-checkbox';
		echo '<header class="description-box"><h3>' . esc_html__( 'Optin checkbox', 'optin' ) . '</h3><p>' . esc_html__( 'An unticked "subscribe me" box. When a visitor ticks it, the submission is forwarded to the optin service, which sends the double opt-in email and records these words as the consent given.', 'optin' ) . '</p></header>';
		echo '<div class="control-box">';
		echo '<input type="hidden" data-tag-part="basetype" value="' . esc_attr( Optin_Plugin::FORM_TAG ) . '" />';
		$parts = array(
			'label' => array( __( 'Label (the consent text)', 'optin' ), 'value', '', __( 'Subscribe me to the newsletter', 'optin' ) ),
			'id'    => array( __( 'ID attribute', 'optin' ), 'option', 'id:', '' ),
			'class' => array( __( 'Class attribute', 'optin' ), 'option', 'class:', '' ),
		);
		foreach ( $parts as $key => $part ) {
			printf(
				'<fieldset><legend id="%1$s">%2$s</legend><input type="text" data-tag-part="%3$s"%4$s value="%5$s" aria-labelledby="%1$s" /></fieldset>',
				esc_attr( $ref . '-' . $key . '-legend' ),
				esc_html( $part[0] ),
				esc_attr( $part[1] ),
				'' !== $part[2] ? ' data-tag-option="' . esc_attr( $part[2] ) . '" pattern="[A-Za-z0-9_\-\s]*"' : '',
				esc_attr( $part[3] )
			);
		}
		echo '</div>';
		printf(
			'<footer class="insert-box"><div class="flex-container"><input type="text" class="code" readonly="readonly" onfocus="this.select();" data-tag-part="tag" aria-label="%1$s" /><button type="button" class="button button-primary" data-taggen="insert-tag">%2$s</button></div></footer>',
			esc_attr__( 'The form-tag to be inserted into the form template', 'optin' ),
			esc_html__( 'Insert Tag', 'optin' )
		);
	}

	/**
	 * Settings → Optin.
	 */
	public function add_page() {
		add_options_page(
			__( 'Optin', 'optin' ),
			__( 'Optin', 'optin' ),
			self::CAPABILITY,
			self::PAGE,
			array( $this, 'render_page' )
		);
	}

	/**
	 * Register the option and its fields with the Settings API.
	 */
	public function register_settings() {
		register_setting(
			self::PAGE,
			Optin_Plugin::OPTION,
			array(
				'type'              => 'array',
				'sanitize_callback' => array( $this, 'sanitize' ),
				'default'           => array(),
				'show_in_rest'      => false,
			)
		);
		add_settings_section( 'optin_service', __( 'Optin service', 'optin' ), array( $this, 'render_section' ), self::PAGE );
		add_settings_field( 'optin_service_url', __( 'Service URL', 'optin' ), array( $this, 'render_service_url' ), self::PAGE, 'optin_service', array( 'label_for' => 'optin_service_url' ) );
		add_settings_field( 'optin_form_id', __( 'Form id', 'optin' ), array( $this, 'render_form_id' ), self::PAGE, 'optin_service', array( 'label_for' => 'optin_form_id' ) );
		add_settings_field( 'optin_secret', __( 'Hook secret', 'optin' ), array( $this, 'render_secret' ), self::PAGE, 'optin_service', array( 'label_for' => 'optin_secret' ) );
	}

	/**
	 * Clean the submitted settings. An empty secret keeps the saved one (the page never shows it).
	 *
	 * @param mixed $input The submitted values (already unslashed by options.php).
	 * @return array
	 */
	public function sanitize( $input ) {
		$current = $this->plugin->settings();
		$input   = is_array( $input ) ? $input : array();

		$url = isset( $input['service_url'] ) ? trim( (string) $input['service_url'] ) : '';
		$url = '' !== $url ? esc_url_raw( $url, array( 'http', 'https' ) ) : '';
		if ( '' === $url && ! empty( $input['service_url'] ) ) {
			add_settings_error( Optin_Plugin::OPTION, 'optin_service_url', __( 'The service URL must start with https:// (or http://).', 'optin' ) );
			$url = $current['service_url'];
		}

		$form_id = isset( $input['form_id'] ) ? sanitize_text_field( (string) $input['form_id'] ) : '';
		$form_id = preg_replace( '/[^A-Za-z0-9_.-]/', '', $form_id );

		$secret = isset( $input['secret'] ) ? preg_replace( '/[^\x21-\x7e]/', '', (string) $input['secret'] ) : '';
		if ( '' === $secret ) {
			$secret = $current['secret'];
		} elseif ( strlen( $secret ) < 16 ) {
			add_settings_error( Optin_Plugin::OPTION, 'optin_secret', __( 'The hook secret must be at least 16 characters, as on the service.', 'optin' ) );
			$secret = $current['secret'];
		}

		return array(
			'service_url' => untrailingslashit( $url ),
			'form_id'     => $form_id,
			'secret'      => $secret,
		);
	}

	/**
	 * Section intro.
	 */
	public function render_section() {
		echo '<p>' . esc_html__( 'The optin service this site sends signups to, and the form\'s hook settings ([forms.NAME.hook] in the service\'s configuration).', 'optin' ) . '</p>';
	}

	/**
	 * Service URL field.
	 */
	public function render_service_url() {
		$settings = $this->plugin->settings();
		printf(
			'<input type="url" class="regular-text code" id="optin_service_url" name="%s[service_url]" value="%s" placeholder="https://signup.example.com" />',
			esc_attr( Optin_Plugin::OPTION ),
			esc_attr( $settings['service_url'] )
		);
	}

	/**
	 * Form id field.
	 */
	public function render_form_id() {
		$settings = $this->plugin->settings();
		printf(
			'<input type="text" class="regular-text code" id="optin_form_id" name="%s[form_id]" value="%s" placeholder="contact" />',
			esc_attr( Optin_Plugin::OPTION ),
			esc_attr( $settings['form_id'] )
		);
	}

	/**
	 * Hook secret field: write-only; a saved secret is shown by its last four characters.
	 */
	public function render_secret() {
		$settings = $this->plugin->settings();
		printf(
			'<input type="password" class="regular-text code" id="optin_secret" name="%s[secret]" value="" autocomplete="new-password" />',
			esc_attr( Optin_Plugin::OPTION )
		);
		if ( '' !== $settings['secret'] ) {
			echo '<p class="description">' . esc_html(
				sprintf(
					/* translators: %s: the last four characters of the saved secret. */
					__( 'A secret is saved (ending in …%s). Leave the field empty to keep it.', 'optin' ),
					substr( $settings['secret'], -4 )
				)
			) . '</p>';
		} else {
			echo '<p class="description">' . esc_html__( 'The same value as the form\'s hook secret on the service.', 'optin' ) . '</p>';
		}
	}

	/**
	 * The page: the settings form, the connection test and the forwarding status.
	 */
	public function render_page() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			return;
		}
		echo '<div class="wrap"><h1>' . esc_html( get_admin_page_title() ) . '</h1>';

		// Only a flag telling the page to show the stored outcome of the test; the test itself checked a nonce.
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended
		if ( isset( $_GET['optin-tested'] ) ) {
			$key     = 'optin_test_' . get_current_user_id();
			$outcome = get_transient( $key );
			delete_transient( $key );
			if ( is_array( $outcome ) && isset( $outcome['message'] ) ) {
				printf(
					'<div class="notice notice-%s"><p>%s</p></div>',
					esc_attr( ! empty( $outcome['ok'] ) ? 'success' : 'error' ),
					esc_html( (string) $outcome['message'] )
				);
			}
		}
		settings_errors( Optin_Plugin::OPTION );

		echo '<form method="post" action="' . esc_url( admin_url( 'options.php' ) ) . '">';
		settings_fields( self::PAGE );
		do_settings_sections( self::PAGE );
		submit_button();
		echo '</form>';

		echo '<h2>' . esc_html__( 'Test the connection', 'optin' ) . '</h2>';
		echo '<p>' . esc_html__( 'Sends a signed ping with the saved settings; nobody is subscribed.', 'optin' ) . '</p>';
		echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '">';
		echo '<input type="hidden" name="action" value="' . esc_attr( self::TEST_ACTION ) . '" />';
		wp_nonce_field( self::TEST_ACTION );
		submit_button( __( 'Test connection', 'optin' ), 'secondary', 'submit', false );
		echo '</form>';

		echo '<h2>' . esc_html__( 'Usage', 'optin' ) . '</h2><p>';
		echo esc_html__( 'Signup widget: [optin_form] (or [optin_form id="another-form"]). Contact Form 7: add [optin_checkbox "Subscribe me to the newsletter"] to a form; ticked submissions are forwarded to the service.', 'optin' );
		echo '</p>';

		$pending = count( $this->plugin->pending() );
		$problem = get_option( Optin_Plugin::PROBLEM_OPTION );
		$dropped = $this->plugin->dropped_record();
		if ( $pending > 0 || is_array( $problem ) || $dropped['count'] > 0 ) {
			echo '<h2>' . esc_html__( 'Forwarding status', 'optin' ) . '</h2>';
			echo '<p>' . esc_html(
				sprintf(
					/* translators: %d: number of submissions waiting for a retry. */
					_n( '%d submission is waiting for a retry.', '%d submissions are waiting for a retry.', $pending, 'optin' ),
					$pending
				)
			) . '</p>';
			if ( is_array( $problem ) && isset( $problem['message'], $problem['time'] ) ) {
				echo '<p>' . esc_html(
					sprintf(
						/* translators: 1: date and time, 2: what went wrong. */
						__( 'Last problem (%1$s): %2$s', 'optin' ),
						wp_date( 'Y-m-d H:i:s', (int) $problem['time'] ),
						(string) $problem['message']
					)
				) . '</p>';
			}
			if ( $dropped['count'] > 0 ) {
				echo '<p>' . esc_html(
					sprintf(
						/* translators: 1: number dropped, 2: date and time. */
						_n( '%1$d submission was dropped after its last retry (since %2$s).', '%1$d submissions were dropped after their last retry (since %2$s).', $dropped['count'], 'optin' ),
						$dropped['count'],
						wp_date( 'Y-m-d H:i:s', $dropped['since'] )
					)
				) . '</p>';
			}
		}
		echo '</div>';
	}

	/**
	 * Admin-post handler of the "test connection" button: a signed ping, then back to the page.
	 */
	public function test_connection() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to change the Optin settings.', 'optin' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( self::TEST_ACTION );

		$forwarder = $this->plugin->forwarder();
		if ( $forwarder->is_configured() ) {
			$result = $forwarder->ping();
		} else {
			$result = array(
				'ok'      => false,
				'message' => __( 'Save the service URL, form id and hook secret first.', 'optin' ),
			);
		}
		$message = $result['ok'] ? $result['message'] : sprintf(
			/* translators: %s: what went wrong, in words. */
			__( 'The connection test failed: %s', 'optin' ),
			$result['message']
		);
		set_transient(
			'optin_test_' . get_current_user_id(),
			array(
				'ok'      => (bool) $result['ok'],
				'message' => $message,
			),
			MINUTE_IN_SECONDS
		);
		wp_safe_redirect( add_query_arg( 'optin-tested', '1', admin_url( 'options-general.php?page=' . self::PAGE ) ) );
		exit;
	}
}
