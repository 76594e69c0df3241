<?php
/**
 * The shortcode, the Contact Form 7 integration and the WP-Cron retries.
 *
 * @package Optin
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Wires the plugin into WordPress and Contact Form 7.
 */
class Optin_Plugin {

	/**
	 * Option holding service_url, form_id and secret.
	 */
	const OPTION = 'optin_settings';

	/**
	 * Option holding submissions waiting for a retry (they contain personal data: kept only until sent).
	 */
	const PENDING_OPTION = 'optin_pending';

	/**
	 * Option holding the last forwarding problem, shown on the settings page.
	 */
	const PROBLEM_OPTION = 'optin_last_problem';

	/**
	 * Option counting the submissions dropped after their last retry failed (until the owner dismisses it).
	 */
	const DROPPED_OPTION = 'optin_dropped';

	/**
	 * At most one email to the owner about dropped submissions per this many seconds.
	 */
	const DROPPED_MAIL_EVERY = 3600;

	/**
	 * WP-Cron hook that retries one pending submission.
	 */
	const RETRY_HOOK = 'optin_retry';

	/**
	 * Name of the checkbox the [optin_checkbox] form-tag renders.
	 */
	const CONSENT_FIELD = 'optin-consent';

	/**
	 * Contact Form 7 form-tag type.
	 */
	const FORM_TAG = 'optin_checkbox';

	/**
	 * Seconds to wait before each retry; after the last one the submission is dropped.
	 */
	const RETRY_DELAYS = array( 60, 300, 900, 3600, 10800, 21600 );

	/**
	 * At most this many submissions wait for a retry; the oldest are dropped first.
	 */
	const MAX_PENDING = 500;

	/**
	 * Add the plugin's hooks.
	 */
	public function register() {
		add_shortcode( 'optin_form', array( $this, 'shortcode' ) );
		add_action( 'wpcf7_init', array( $this, 'register_form_tag' ) );
		add_action( 'wpcf7_submit', array( $this, 'on_cf7_submit' ), 10, 2 );
		add_action( self::RETRY_HOOK, array( $this, 'retry' ), 10, 1 );
	}

	/**
	 * The saved settings, with every key present.
	 *
	 * @return array Keys service_url, form_id, secret.
	 */
	public function settings() {
		$saved = get_option( self::OPTION, array() );
		$saved = is_array( $saved ) ? $saved : array();
		return array(
			'service_url' => isset( $saved['service_url'] ) ? (string) $saved['service_url'] : '',
			'form_id'     => isset( $saved['form_id'] ) ? (string) $saved['form_id'] : '',
			'secret'      => isset( $saved['secret'] ) ? (string) $saved['secret'] : '',
		);
	}

	/**
	 * A forwarder for the saved settings.
	 *
	 * @return Optin_Forwarder
	 */
	public function forwarder() {
		$settings = $this->settings();
		$timeout  = (float) apply_filters( 'optin_forward_timeout', Optin_Forwarder::DEFAULT_TIMEOUT );
		return new Optin_Forwarder( $settings['service_url'], $settings['form_id'], $settings['secret'], $timeout );
	}

	/**
	 * The [optin_form id="…"] shortcode: the service's widget script tag.
	 *
	 * @param array|string $atts Shortcode attributes.
	 * @return string
	 */
	public function shortcode( $atts ) {
		$settings = $this->settings();
		$atts     = shortcode_atts( array( 'id' => $settings['form_id'] ), $atts, 'optin_form' );
		$form_id  = sanitize_text_field( (string) $atts['id'] );
		if ( '' === $settings['service_url'] || '' === $form_id ) {
			return '';
		}
		$src = rtrim( $settings['service_url'], '/' ) . '/widget.js';
		// The widget is served by the optin service and reads its data-form attribute, so it is printed in place.
		// phpcs:ignore WordPress.WP.EnqueuedResources.NonEnqueuedScript
		return sprintf( '<script src="%s" data-form="%s" async></script>', esc_url( $src ), esc_attr( $form_id ) );
	}

	/**
	 * Register [optin_checkbox "label"] with Contact Form 7.
	 */
	public function register_form_tag() {
		if ( function_exists( 'wpcf7_add_form_tag' ) ) {
			wpcf7_add_form_tag( self::FORM_TAG, array( $this, 'render_form_tag' ) );
		}
	}

	/**
	 * The checkbox's HTML (unticked: consent must be given by the visitor).
	 *
	 * @param object $tag The WPCF7_FormTag.
	 * @return string
	 */
	public function render_form_tag( $tag ) {
		$label = self::tag_label( $tag );
		$class = 'wpcf7-form-control wpcf7-checkbox optin-checkbox';
		if ( is_object( $tag ) && method_exists( $tag, 'get_class_option' ) ) {
			$class = $tag->get_class_option( $class );
		}
		$id = ( is_object( $tag ) && method_exists( $tag, 'get_id_option' ) ) ? (string) $tag->get_id_option() : '';
		return sprintf(
			'<span class="wpcf7-form-control-wrap" data-name="%1$s"><span class="%2$s"><span class="wpcf7-list-item"><label><input type="checkbox" name="%1$s" value="1"%3$s /> <span class="wpcf7-list-item-label">%4$s</span></label></span></span></span>',
			esc_attr( self::CONSENT_FIELD ),
			esc_attr( $class ),
			'' !== $id ? ' id="' . esc_attr( $id ) . '"' : '',
			esc_html( $label )
		);
	}

	/**
	 * The words next to the checkbox: the tag's label, or the default one.
	 *
	 * @param object $tag The WPCF7_FormTag.
	 * @return string
	 */
	public static function tag_label( $tag ) {
		$label = '';
		if ( is_object( $tag ) && ! empty( $tag->labels ) && is_array( $tag->labels ) ) {
			$label = (string) reset( $tag->labels );
		} elseif ( is_object( $tag ) && ! empty( $tag->values ) && is_array( $tag->values ) ) {
			$label = (string) reset( $tag->values );
		}
		return '' === trim( $label ) ? __( 'Subscribe me to the newsletter', 'optin' ) : $label;
	}

	/**
	 * Contact Form 7's wpcf7_submit: forward sent submissions whose optin checkbox is ticked.
	 *
	 * @param object $contact_form The WPCF7_ContactForm.
	 * @param array  $result       The submission result (status, posted_data_hash, …).
	 * @return array|null The forwarding result, null when nothing was forwarded.
	 */
	public function on_cf7_submit( $contact_form, $result ) {
		if ( ! is_array( $result ) || ! isset( $result['status'] ) ) {
			return null;
		}
		// Only submissions Contact Form 7 accepted: never spam, invalid or aborted ones.
		if ( ! in_array( $result['status'], array( 'mail_sent', 'mail_failed' ), true ) ) {
			return null;
		}
		if ( empty( $result['posted_data_hash'] ) || ! class_exists( 'WPCF7_Submission' ) ) {
			return null;
		}
		$checkbox = $this->checkbox_tag( $contact_form );
		if ( null === $checkbox ) {
			return null;
		}
		$submission = WPCF7_Submission::get_instance();
		if ( ! $submission ) {
			return null;
		}
		$fields = (array) $submission->get_posted_data();
		if ( ! self::is_ticked( isset( $fields[ self::CONSENT_FIELD ] ) ? $fields[ self::CONSENT_FIELD ] : null ) ) {
			return null;
		}
		$hash = (string) $submission->get_posted_data_hash();
		$hash = '' !== $hash ? $hash : (string) $result['posted_data_hash'];
		$meta = array(
			'ip'           => (string) $submission->get_meta( 'remote_ip' ),
			'user_agent'   => (string) $submission->get_meta( 'user_agent' ),
			'page_url'     => (string) $submission->get_meta( 'url' ),
			// What the visitor read beside the box they ticked: the proof of consent needs the words.
			'consent_text' => wp_strip_all_tags( self::tag_label( $checkbox ) ),
		);
		$fields = (array) apply_filters( 'optin_submission_fields', $fields, $contact_form );
		return $this->deliver(
			array(
				'submission_id' => $hash,
				'fields'        => $fields,
				'meta'          => $meta,
				'attempts'      => 0,
				'created'       => time(),
			)
		);
	}

	/**
	 * The form's [optin_checkbox] tag, or null when it has none (so a forged field on another form is ignored).
	 *
	 * @param object $contact_form The WPCF7_ContactForm.
	 * @return object|null
	 */
	private function checkbox_tag( $contact_form ) {
		if ( ! is_object( $contact_form ) || ! method_exists( $contact_form, 'scan_form_tags' ) ) {
			return null;
		}
		$tags = (array) $contact_form->scan_form_tags( array( 'type' => self::FORM_TAG ) );
		return array() !== $tags ? reset( $tags ) : null;
	}

	/**
	 * Whether a posted checkbox value means "ticked".
	 *
	 * @param mixed $value A string, or a list as Contact Form 7 posts checkboxes.
	 * @return bool
	 */
	public static function is_ticked( $value ) {
		$values = is_array( $value ) ? $value : array( $value );
		foreach ( $values as $one ) {
			if ( is_scalar( $one ) && '' !== trim( (string) $one ) && '0' !== trim( (string) $one ) ) {
				return true;
			}
		}
		return false;
	}

	/**
	 * Send one submission now; if the service cannot take it, queue it for a WP-Cron retry.
	 *
	 * @param array $entry Keys submission_id, fields, meta, attempts, created.
	 * @return array The forwarding result (see Optin_Forwarder::send()) plus key "scheduled".
	 */
	private function deliver( array $entry ) {
		$id     = self::pending_id( $entry['submission_id'] );
		$result = $this->forwarder()->forward( $entry['submission_id'], $entry['fields'], $entry['meta'] );
		++$entry['attempts'];
		$result['scheduled'] = false;
		if ( $result['ok'] ) {
			$this->forget( $id );
			if ( array() === $this->pending() ) {
				delete_option( self::PROBLEM_OPTION ); // it is over: nothing waits any more
			}
		} elseif ( $result['retry'] && $entry['attempts'] <= count( self::RETRY_DELAYS ) ) {
			$delay               = self::RETRY_DELAYS[ $entry['attempts'] - 1 ];
			$entry['last_error'] = $result['message'];
			$this->remember( $id, $entry );
			wp_schedule_single_event( time() + $delay, self::RETRY_HOOK, array( $id ) );
			$result['scheduled'] = true;
			$this->problem( $result['message'] . '; retrying in ' . $delay . ' s' );
		} else {
			$this->forget( $id );
			$this->problem( $result['message'] . ( $result['retry'] ? '; gave up after ' . $entry['attempts'] . ' attempts' : '' ) );
			if ( $result['retry'] ) {
				$this->dropped( $entry, $result['message'] );
			}
		}
		do_action( 'optin_forward_result', $result, $entry['submission_id'] );
		return $result;
	}

	/**
	 * WP-Cron: try a pending submission again, signed afresh.
	 *
	 * @param string $id The pending entry's key.
	 * @return array|null The forwarding result, null when the entry is gone.
	 */
	public function retry( $id ) {
		$pending = $this->pending();
		if ( ! is_string( $id ) || ! isset( $pending[ $id ] ) ) {
			return null;
		}
		return $this->deliver( $pending[ $id ] );
	}

	/**
	 * Submissions waiting for a retry, by key.
	 *
	 * @return array
	 */
	public function pending() {
		$pending = get_option( self::PENDING_OPTION, array() );
		return is_array( $pending ) ? $pending : array();
	}

	/**
	 * Activation: put back the retries of submissions still waiting.
	 */
	public function activate() {
		foreach ( array_keys( $this->pending() ) as $offset => $id ) {
			if ( ! wp_next_scheduled( self::RETRY_HOOK, array( (string) $id ) ) ) {
				wp_schedule_single_event( time() + 60 + $offset, self::RETRY_HOOK, array( (string) $id ) );
			}
		}
	}

	/**
	 * Deactivation: no retries run while the plugin is off (the submissions stay queued).
	 */
	public function deactivate() {
		wp_unschedule_hook( self::RETRY_HOOK );
	}

	/**
	 * The pending-queue key for a submission id.
	 *
	 * @param string $submission_id Contact Form 7's posted_data_hash.
	 * @return string
	 */
	private static function pending_id( $submission_id ) {
		return substr( hash( 'sha256', (string) $submission_id ), 0, 32 );
	}

	/**
	 * Store a submission for a retry.
	 *
	 * @param string $id    Key.
	 * @param array  $entry The submission.
	 */
	private function remember( $id, array $entry ) {
		$pending = $this->pending();
		unset( $pending[ $id ] );
		$pending[ $id ] = $entry;
		while ( count( $pending ) > self::MAX_PENDING ) {
			$oldest = array_keys( $pending )[0];
			unset( $pending[ $oldest ] );
			wp_clear_scheduled_hook( self::RETRY_HOOK, array( (string) $oldest ) );
		}
		update_option( self::PENDING_OPTION, $pending, false );
	}

	/**
	 * Drop a submission from the retry queue.
	 *
	 * @param string $id Key.
	 */
	private function forget( $id ) {
		$pending = $this->pending();
		if ( isset( $pending[ $id ] ) ) {
			unset( $pending[ $id ] );
			update_option( self::PENDING_OPTION, $pending, false );
		}
	}

	/**
	 * Submissions dropped after their last retry: count, first and last time, last reason.
	 *
	 * @return array Keys count, since, time, message, mailed (0 when empty).
	 */
	public function dropped_record() {
		$saved = get_option( self::DROPPED_OPTION, array() );
		$saved = is_array( $saved ) ? $saved : array();
		return array(
			'count'   => isset( $saved['count'] ) ? (int) $saved['count'] : 0,
			'since'   => isset( $saved['since'] ) ? (int) $saved['since'] : 0,
			'time'    => isset( $saved['time'] ) ? (int) $saved['time'] : 0,
			'message' => isset( $saved['message'] ) ? (string) $saved['message'] : '',
			'mailed'  => isset( $saved['mailed'] ) ? (int) $saved['mailed'] : 0,
		);
	}

	/**
	 * A submission's last retry failed: count it for the dashboard and tell the owner by email.
	 *
	 * The email goes to the site's admin address at most hourly; it names the visitor's address only
	 * masked (the owner finds the whole submission in Contact Form 7's own email) and says what to do.
	 *
	 * @param array  $entry   The submission.
	 * @param string $message What went wrong, in words.
	 */
	private function dropped( array $entry, $message ) {
		$record = $this->dropped_record();
		$now    = time();
		++$record['count'];
		$record['since']   = $record['since'] ? $record['since'] : $now;
		$record['time']    = $now;
		$record['message'] = $message;
		$owner             = (string) get_option( 'admin_email', '' );
		if ( '' !== $owner && $now - $record['mailed'] >= self::DROPPED_MAIL_EVERY ) {
			$record['mailed'] = $now;
			$subject          = __( '[Optin] A contact-form signup could not be forwarded and was dropped', 'optin' );
			$body             = sprintf(
				/* translators: 1: attempts, 2: masked address, 3: page, 4: date, 5: what went wrong, 6: settings URL. */
				__( "A signup from your contact form could not reach the optin service after %1\$d attempts, and was dropped.

Address: %2\$s
Page: %3\$s
Sent: %4\$s
Last problem: %5\$s

This person is not subscribed. Contact Form 7's own email to you has the whole message, if you want to ask them to sign up again. Check the plugin's settings and the service: %6\$s", 'optin' ),
				(int) $entry['attempts'],
				self::masked_address( isset( $entry['fields'] ) ? (array) $entry['fields'] : array() ),
				isset( $entry['meta']['page_url'] ) ? (string) $entry['meta']['page_url'] : '',
				wp_date( 'Y-m-d H:i', isset( $entry['created'] ) ? (int) $entry['created'] : $now ),
				$message,
				admin_url( 'options-general.php?page=optin' )
			);
			wp_mail( $owner, $subject, $body );
		}
		update_option( self::DROPPED_OPTION, $record, false );
	}

	/**
	 * The first address among the posted fields, masked as the service's logs mask them (j***@example.com).
	 *
	 * @param array $fields The posted data.
	 * @return string
	 */
	public static function masked_address( array $fields ) {
		foreach ( $fields as $value ) {
			$value = is_array( $value ) ? reset( $value ) : $value;
			if ( is_string( $value ) && false !== filter_var( trim( $value ), FILTER_VALIDATE_EMAIL ) ) {
				$parts = explode( '@', trim( $value ) );
				return substr( $parts[0], 0, 1 ) . '***@' . $parts[1];
			}
		}
		return __( '(no address found)', 'optin' );
	}

	/**
	 * Remember the last forwarding problem for the settings page.
	 *
	 * @param string $message What went wrong, in words.
	 */
	private function problem( $message ) {
		update_option(
			self::PROBLEM_OPTION,
			array(
				'time'    => time(),
				'message' => $message,
			),
			false
		);
	}
}
